"""One-click unsubscribe (RFC 8058) at /u/TOKEN.

POST unsubscribes at once: no login, no cookie, no CSRF token, as mail
providers send it (`List-Unsubscribe=One-Click`). GET only shows a page with
one button, because mail scanners fetch every link in a message. The change
is committed before the answer, so the very next send skips the reader.
A repeated POST (a provider retrying) answers "unsubscribed" again.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.models import Subscriber
from digest.signing import TokenError, read_token
from digest.store.subscribers import subscriber_by_id, unsubscribe_id
from digest.web.context import Web

GONE = "this link no longer works"
GONE_HINT = "Use the link in your most recent email, or subscribe again."


def token_subscriber(web: Web, purpose: str, token: str) -> tuple[Subscriber, bool]:
    """The subscriber a token names and whether it is current (its version matches).

    TokenError when the token is forged, for another purpose, or names nobody.
    """
    found = read_token(web.secret, purpose, token)
    sub = subscriber_by_id(web.db(), found.subject)
    if sub is None:
        raise TokenError(GONE)
    return sub, found.version == sub.token_version


def _answer(web: Web, token: str, post: bool) -> Response:
    try:
        sub, _ = token_subscriber(web, "unsubscribe", token)
    except TokenError as exc:
        return web.error(400 if str(exc) != GONE else 410, str(exc), GONE_HINT)
    # An unsubscribe link from any email the reader was ever sent works, whatever
    # happened since (they left and came back: the version moved on). Only the
    # reader was sent it, and a one-click POST that unsubscribed nobody would
    # break RFC 8058. Manage and vote links do end with the version.
    out = not sub.active and not sub.paused
    if post:  # a paused reader leaving is unsubscribed too (their links stop working)
        if not out:
            unsubscribe_id(web.db(), sub.id or 0)
        return web.page("unsubscribe", done=True, email=sub.email)
    if out:
        # Already out (a provider retrying, another link, the operator): saying
        # so reveals nothing the holder of the link did not know.
        return web.page("unsubscribe", done=True, email=sub.email)
    return web.page("unsubscribe", done=False, email=sub.email, action=f"{web.root}/u/{token}")


async def unsubscribe(request: Request) -> Response:
    web: Web = request.app.state.web
    token = request.path_params["token"]
    return await run_in_threadpool(_answer, web, token, request.method == "POST")

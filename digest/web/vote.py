"""Thumbs up / down from the email, at /v/TOKEN.

Mail scanners fetch every link in a message, so a GET never votes: it shows
the paper and one button. The button POSTs to the same URL, which records
the vote (committed before the answer, so the next send's order uses it).
The signed token is the authority, as for one-click unsubscribe: no cookie.
Clicking twice is one vote (`set_vote` is idempotent); the answer page has
an "undo" button (a POST with `undo=1`) that removes the vote again.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.signing import TokenError, read_vote_token
from digest.store.feedback import current_vote, paper_title, set_vote
from digest.store.subscribers import subscriber_by_id
from digest.web.context import Web
from digest.web.forms import FormError, field, read_form

GONE = "this link no longer works"
GONE_HINT = "Use the links in your most recent email."


def _answer(web: Web, token: str, post: bool, undo: bool) -> Response:
    try:
        found = read_vote_token(web.secret, token)
    except TokenError as exc:
        return web.error(400, str(exc), GONE_HINT)
    db = web.db()
    sub = subscriber_by_id(db, found.subject)
    if sub is None or sub.id is None or found.version != sub.token_version:
        return web.error(410, GONE, GONE_HINT)
    title = paper_title(db, found.paper)
    if title is None:
        return web.error(410, "this paper is no longer in the archive", GONE_HINT)
    if post:
        set_vote(db, sub.id, found.paper, 0 if undo else found.vote, "email")
    return web.page(
        "vote",
        title=" ".join(title.split()),
        vote=found.vote,
        current=current_vote(db, sub.id, found.paper),
        done=post,
        undone=post and undo,
        email=sub.email,
        action=f"{web.root}/v/{token}",
    )


async def vote(request: Request) -> Response:
    web: Web = request.app.state.web
    token = request.path_params["token"]
    undo = False
    if request.method == "POST" and request.headers.get("content-type"):
        try:
            undo = field(await read_form(request), "undo") == "1"
        except FormError as exc:
            return web.error(exc.status, exc.message)
    return await run_in_threadpool(_answer, web, token, request.method == "POST", undo)

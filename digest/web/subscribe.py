"""Subscribing from the web: a form, a confirmation email, a confirm button.

Double opt-in: the form only records a sign-up and mails a signed link (valid
48 hours, usable once); the subscriber is created or reactivated when that
link's button is pressed. The form always answers "check your inbox", whether
or not the address is known, limited, or already subscribed, so it reveals
nothing about who reads the digest. Sign-ups are rate limited per address
(silently: no email) and per client (429), counted in SQLite.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.errors import DigestError
from digest.mail.compose import reader_links
from digest.mail.smtp_errors import SendFailure
from digest.models import Subscriber
from digest.signing import CONFIRM_MAX_AGE_S, TokenError, link, read_token
from digest.store.signups import SignupUsed, allow, confirm_signup, create_signup, get_signup
from digest.store.subscribers import subscriber_by_id
from digest.subscriptions import make_subscriber
from digest.web.context import Web
from digest.web.emails import confirmation
from digest.web.forms import FormError, check_csrf, csrf_token, field, read_form, set_csrf

log = logging.getLogger(__name__)

PER_ADDRESS = (3, timedelta(days=1))  # confirmation emails to one address
PER_CLIENT = (10, timedelta(hours=1))  # sign-up posts from one client address
MAX_KEYWORDS = 10


def choices_from_form(
    form: dict[str, list[str]], vocabulary: list[str], address: str, **extra: Any
) -> Subscriber:
    """The subscription a form states, validated like `digest subscribe` (DigestError)."""
    keywords = [k.strip() for k in field(form, "keywords").split(",") if k.strip()]
    if len(keywords) > MAX_KEYWORDS:
        raise DigestError(f"give at most {MAX_KEYWORDS} keywords")
    frequency = field(form, "frequency") or "daily"
    return make_subscriber(
        address,
        vocabulary=vocabulary,
        name=field(form, "name") or None,
        tags=form.get("tags", []),
        keywords=keywords,
        frequency=frequency,
        weekday=(field(form, "weekday") or None) if frequency == "weekly" else None,
        **extra,
    )


def _form_page(web: Web, token: str, status: int = 200, **context: Any) -> Response:
    values = {"email": "", "name": "", "tags": [], "keywords": "", "frequency": "daily"}
    values.update(context.pop("values", {}))
    page = web.page(
        "subscribe",
        status,
        csrf=token,
        vocabulary=web.settings.tags,
        values=values,
        **context,
    )
    return set_csrf(page, token, root=web.root, secure=web.secure)


async def subscribe_form(request: Request) -> Response:
    web: Web = request.app.state.web
    return _form_page(web, csrf_token(request), error=None)


async def subscribe_post(request: Request) -> Response:
    web: Web = request.app.state.web
    token = csrf_token(request)
    try:
        form = await read_form(request)
        check_csrf(request, form)
    except FormError as exc:
        return web.error(exc.status, exc.message)
    client = request.client.host if request.client else "unknown"
    return await run_in_threadpool(_subscribe, web, form, client, token)


def _subscribe(web: Web, form: dict[str, list[str]], client: str, token: str) -> Response:
    values = {
        "email": field(form, "email")[:300],
        "name": field(form, "name")[:300],
        "tags": form.get("tags", [])[:100],
        "keywords": field(form, "keywords")[:2000],
        "frequency": field(form, "frequency"),
    }
    try:
        sub = choices_from_form(form, web.settings.vocabulary, field(form, "email"))
    except DigestError as exc:
        return _form_page(web, token, 400, error=str(exc), values=values)
    now = web.clock()
    db = web.db()
    if not allow(db, f"client:{client}", *PER_CLIENT, now):
        return web.error(
            429, "too many sign-ups from your network", "Please wait an hour and try again."
        )
    if allow(db, f"address:{sub.email}", *PER_ADDRESS, now):
        signup = create_signup(db, sub, _stamp(web))
        url = link(web.settings, web.secret, "confirm", "confirm", signup, 0)
        cadence = "weekly" if sub.frequency == "weekly" else "daily"
        msg = confirmation(web.settings, sub.email, cadence, url, now)
        transport = web.mailer()
        try:
            transport.send(msg, _envelope(web), sub.email)
        except SendFailure as exc:
            log.warning("web: the confirmation email could not be sent: %s", exc)
            return web.error(
                503, "we could not send the confirmation email just now", "Please try later."
            )
        finally:
            transport.close()
    else:
        log.info("web: sign-up limit reached for an address; no email sent")
    return web.page("inbox", email=sub.email)


def _stamp(web: Web) -> str:
    return web.clock().replace(microsecond=0).isoformat()


def _envelope(web: Web) -> str:
    from digest.mail.compose import sender

    return sender(web.settings)[1]


def _signup_for(web: Web, token: str) -> dict[str, Any]:
    found = read_token(web.secret, "confirm", token, max_age=CONFIRM_MAX_AGE_S)
    row = get_signup(web.db(), found.subject)
    if row is None:
        raise TokenError("this link is not valid")
    if row["confirmed"]:
        raise SignupUsed("this confirmation link was already used")
    return row


def _signed_up(row: dict[str, Any], vocabulary: list[str]) -> Subscriber:
    """The subscriber a sign-up asked for, checked again at the click: a tag
    the vocabulary no longer has is dropped rather than refused."""
    return make_subscriber(
        row["email"],
        vocabulary=vocabulary,
        name=row["name"],
        tags=[t for t in json.loads(row["tags"] or "[]") if t in vocabulary],
        keywords=json.loads(row["keywords"] or "[]"),
        frequency=row["frequency"],
    )


def _refuse(web: Web, exc: DigestError) -> Response:
    if isinstance(exc, SignupUsed):
        return web.error(
            410, str(exc), "Your subscription is active: every email has a link to manage it."
        )
    expired = isinstance(exc, TokenError) and exc.expired
    return web.error(
        410 if expired else 400,
        "this confirmation link has expired" if expired else str(exc),
        "Subscribe again to get a fresh link.",
    )


async def confirm_page(request: Request) -> Response:
    web: Web = request.app.state.web
    token = request.path_params["token"]
    csrf = csrf_token(request)

    def answer() -> Response:
        try:
            row = _signup_for(web, token)
        except DigestError as exc:
            return _refuse(web, exc)
        page = web.page(
            "confirm",
            done=False,
            email=row["email"],
            csrf=csrf,
            action=f"{web.root}/confirm/{token}",
        )
        return set_csrf(page, csrf, root=web.root, secure=web.secure)

    return await run_in_threadpool(answer)


async def confirm_post(request: Request) -> Response:
    web: Web = request.app.state.web
    token = request.path_params["token"]
    try:
        form = await read_form(request)
        check_csrf(request, form)
    except FormError as exc:
        return web.error(exc.status, exc.message)

    def answer() -> Response:
        try:
            row = _signup_for(web, token)
            wanted = _signed_up(row, web.settings.vocabulary)
            sub_id, _ = confirm_signup(web.db(), row["id"], wanted, _stamp(web))
        except DigestError as exc:
            return _refuse(web, exc)
        sub = subscriber_by_id(web.db(), sub_id)
        links = reader_links(web.settings, sub, web.secret) if sub else None
        return web.page(
            "confirm", done=True, email=row["email"], manage=links.manage if links else None
        )

    return await run_in_threadpool(answer)

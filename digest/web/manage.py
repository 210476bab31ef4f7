"""The manage page at /m/TOKEN: topics, keywords, interests, cadence, papers per
email, pause/resume, the reader's thumbs (each can be undone) and unsubscribe,
behind the reader's signed link (no account, no password). Posts carry the
CSRF token; the link stops working once the reader unsubscribes (their
token_version moves on)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.cadence import DEFAULT_WEEKDAY
from digest.errors import DigestError
from digest.models import MAX_PAPERS, Subscriber
from digest.signing import TokenError
from digest.store.feedback import set_vote, votes
from digest.store.subscribers import save_subscriber, unsubscribe_id
from digest.web.context import Web
from digest.web.forms import FormError, check_csrf, csrf_token, field, read_form, set_csrf
from digest.web.subscribe import choices_from_form
from digest.web.unsubscribe import GONE, GONE_HINT, token_subscriber

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
VOTES_SHOWN = 100  # the most recent thumbs and likes on the page


def _current(web: Web, token: str) -> Subscriber:
    sub, current = token_subscriber(web, "manage", token)
    if not current:
        raise TokenError(GONE)
    return sub


def _page(web: Web, token: str, sub: Subscriber, csrf: str, status: int = 200, **extra: Any):  # noqa: ANN202
    values = {
        "name": sub.name or "",
        "tags": list(sub.tags),
        "keywords": ", ".join(sub.keywords),
        "frequency": sub.frequency,
        "weekday": sub.weekday or DEFAULT_WEEKDAY,
        "max_papers": sub.max_papers or "",
        "interests": sub.interests or "",
    }
    values.update(extra.pop("values", {}))
    page = web.page(
        "manage",
        status,
        sub=sub,
        values=values,
        csrf=csrf,
        vocabulary=web.settings.tags,
        weekdays=WEEKDAYS,
        default_max=web.settings.digest.max_papers,
        max_cap=max(MAX_PAPERS, sub.max_papers or 0),  # a value stored before the limit
        votes=votes(web.db(), sub.id or 0)[:VOTES_SHOWN],
        action=f"{web.root}/m/{token}",
        message=extra.pop("message", None),
        error=extra.pop("error", None),
    )
    return set_csrf(page, csrf, root=web.root, secure=web.secure)


def _refused(web: Web, exc: TokenError) -> Response:
    return web.error(410 if str(exc) == GONE else 400, str(exc), GONE_HINT)


async def manage_page(request: Request) -> Response:
    web: Web = request.app.state.web
    token, csrf = request.path_params["token"], csrf_token(request)

    def answer() -> Response:
        try:
            return _page(web, token, _current(web, token), csrf)
        except TokenError as exc:
            return _refused(web, exc)

    return await run_in_threadpool(answer)


async def manage_post(request: Request) -> Response:
    web: Web = request.app.state.web
    token, csrf = request.path_params["token"], csrf_token(request)
    try:
        form = await read_form(request)
        check_csrf(request, form)
    except FormError as exc:
        return web.error(exc.status, exc.message)
    return await run_in_threadpool(_change, web, token, csrf, form)


def _change(web: Web, token: str, csrf: str, form: dict[str, list[str]]) -> Response:
    try:
        sub = _current(web, token)
    except TokenError as exc:
        return _refused(web, exc)
    db = web.db()
    action = field(form, "action")
    if action == "unsubscribe":
        unsubscribe_id(db, sub.id or 0)
        return web.page("unsubscribe", done=True, email=sub.email)
    if action in ("pause", "resume"):
        pause = action == "pause"
        save_subscriber(db, dataclasses.replace(sub, active=not pause, paused=pause))
        words = "Paused: no emails until you resume." if action == "pause" else "Resumed."
        return _page(web, token, _current(web, token), csrf, message=words)
    if action == "undo_vote":
        paper = field(form, "paper")
        mine = {v.paper_id: v for v in votes(db, sub.id or 0)}
        if not paper.isdigit() or int(paper) not in mine:
            return _page(web, token, sub, csrf, 400, error="that vote is already gone")
        set_vote(db, sub.id or 0, int(paper), 0, "web")
        words = f"Your vote on “{' '.join(mine[int(paper)].title.split())}” is undone."
        return _page(web, token, sub, csrf, message=words)
    if action != "save":
        return web.error(400, "unknown action", "Use the buttons on the manage page.")
    try:
        cap = field(form, "max_papers").strip()
        kept = cap == str(sub.max_papers)  # the stored value always saves
        if cap and not kept and (not cap.isdigit() or not 1 <= int(cap) <= MAX_PAPERS):
            raise DigestError(f"papers per email: a whole number from 1 to {MAX_PAPERS}")
        changed = choices_from_form(
            form,
            web.settings.vocabulary,
            sub.email,
            exclude_tags=sub.exclude_tags,
            match=sub.match,
            max_papers=int(cap) if cap else None,
            active=sub.active,
            paused=sub.paused,
            interests=field(form, "interests") or None,
            min_relevance=sub.min_relevance,
        )
    except DigestError as exc:
        values = {
            "name": field(form, "name")[:300],
            "tags": form.get("tags", [])[:100],
            "keywords": field(form, "keywords")[:2000],
            "max_papers": field(form, "max_papers")[:20],
            "interests": field(form, "interests")[:2000],
        }
        return _page(web, token, sub, csrf, 400, error=str(exc), values=values)
    save_subscriber(db, changed)
    return _page(web, token, _current(web, token), csrf, message="Saved.")

"""`digest send`: each active subscriber gets one email with the papers due to them.

Order of events for one subscriber, each step committed before the next:

1. a pending digest (left by a failure or a crash) is retried as it was:
   same papers, same Message-ID, same Date; otherwise the due papers are
   selected and recorded as a new pending digest;
2. the message is handed to the transport;
3. only when the server accepted it is the digest marked sent, together
   with its papers (`store.deliveries.mark_sent`, one transaction).

A crash between 2 and 3 means one resend with the same Message-ID; nothing
is lost. At most one email per subscriber per digest day (`digest.dates`):
a later run of the same day only retries what an earlier one could not send;
papers that arrive meanwhile go out in the next day's email (`force` overrides).

Sending holds the database's send lock, so two commands sending at once (cron's
`run` and an operator's `send`) never select the same papers: the second waits
for the first, then finds them delivered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.dates import digest_day
from digest.errors import DigestError, MailError
from digest.locks import hold
from digest.mail import build_message, new_message_id, render_email, sender
from digest.models import Subscriber
from digest.rank import Ranking
from digest.send_report import Outcome, SendReport
from digest.store import db_file
from digest.store.deliveries import (
    REJECTED_LIMIT,
    Delivery,
    mark_failed,
    mark_sent,
    pending_delivery,
    record_attempt,
    rejected_streak,
    sent_on_day,
    start_delivery,
)
from digest.store.subscribers import get_subscriber, list_subscribers, select_papers
from digest.store.summaries import listing
from digest.transport import SendFailure, Transport, make_transport

# How long a second sender waits for the first one to finish.
LOCK_WAIT_S = 3600.0
_ALREADY = "already sent the digest"
log = logging.getLogger(__name__)


def default_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): 2, 4, 8 ... 60."""
    return float(min(2**attempt, 60))


@dataclass
class _Draft:
    delivery: Delivery | None  # the pending digest being retried, if any
    paper_ids: list[int]
    digest_date: str
    reason: str  # why nothing is due, when nothing is
    waiting: bool = False  # a weekly subscriber on another day
    reasons: dict[int, str] = field(default_factory=dict)  # why each paper is in it
    held_back: str = ""  # the papers under the reader's min relevance, in words


def send_digests(
    db: Database,
    settings: Settings,
    *,
    dry_run: bool = False,
    subscriber: str | None = None,
    transport: Transport | None = None,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Callable[[int], float] = default_backoff,
    should_stop: Callable[[], bool] | None = None,
    day: str | None = None,
    force: bool = False,
) -> SendReport:
    """Send every active subscriber (or only `subscriber`) their digest.

    Never raises for a delivery failure: each subscriber's outcome is in the
    report. Raises DigestError for setup problems found before sending
    (bad config, unknown subscriber). The transport is closed at the end.
    `should_stop` is asked between subscribers (the scheduler's shutdown):
    the ones not reached simply wait for the next run. `day` is the digest day
    (default: `digest_day` of `now`); `force` sends even to subscribers who
    already got that day's digest.
    """
    now = now or datetime.now(UTC)
    day = day or digest_day(settings, now)
    where = db_file(db)
    if where is None or dry_run:
        return _send_all(
            db,
            settings,
            dry_run,
            subscriber,
            transport,
            now,
            sleep,
            backoff,
            should_stop,
            day,
            force,
        )
    with hold(where, "send", wait=LOCK_WAIT_S, should_stop=should_stop, waiting=log.warning):
        return _send_all(
            db,
            settings,
            dry_run,
            subscriber,
            transport,
            now,
            sleep,
            backoff,
            should_stop,
            day,
            force,
        )


def _send_all(
    db: Database,
    settings: Settings,
    dry_run: bool,
    subscriber: str | None,
    transport: Transport | None,
    now: datetime,
    sleep: Callable[[float], None],
    backoff: Callable[[int], float],
    should_stop: Callable[[], bool] | None,
    day: str,
    force: bool,
) -> SendReport:
    if subscriber:
        subs = [get_subscriber(db, subscriber)]
        if not subs[0].active:
            raise DigestError(f"{subs[0].email} unsubscribed: `digest subscribe` it to resume")
    else:
        subs = list_subscribers(db, active_only=True, longest_waiting_first=True)
    report = SendReport(dry_run=dry_run)
    if not subs:
        return report
    sender(settings)  # a bad [email] from fails here, before anything is recorded
    if transport is None and not dry_run:
        transport = make_transport(settings)
    failing = ""
    ranking = Ranking(db, settings, now)
    ranking.prepare(subs)
    try:
        for sub in subs:
            if should_stop is not None and should_stop():
                break
            if failing:
                report.outcomes.append(Outcome(sub.email, "skipped", detail=failing))
                continue
            outcome = _send_one(
                db, settings, sub, transport, now, dry_run, sleep, backoff, day, force, ranking
            )
            report.outcomes.append(outcome)
            if outcome.server_down:
                failing = f"the mail server is failing ({outcome.detail})"
    finally:
        if transport is not None:
            transport.close()
    return report


def preview_email(
    db: Database, settings: Settings, email: str, fmt: str, now: datetime | None = None
) -> str:
    """Exactly the body ("html" or "txt") `digest send` would mail to `email` now.

    Raises MailError when that subscriber would get no email now, saying why.
    """
    if fmt not in ("html", "txt"):
        raise DigestError(f"unknown email format {fmt!r}: use html or txt")
    sub = get_subscriber(db, email)
    now = now or datetime.now(UTC)
    ranking = Ranking(db, settings, now)
    draft = _draft(db, settings, sub, now, digest_day(settings, now), ranking, force=True)
    if draft.waiting:
        raise MailError(f"{sub.email} would get no email now: {draft.reason}")
    if draft.delivery is None and not draft.paper_ids and not settings.digest.send_empty:
        raise MailError(
            f"{sub.email} would get no email now: {draft.reason}"
            " ([digest] send_empty = true sends one anyway)"
        )
    papers = _papers(db, draft.paper_ids, draft.reasons)
    rendered = render_email(settings, sub, papers, draft.digest_date)
    return rendered.html if fmt == "html" else rendered.text


def _send_one(
    db: Database,
    settings: Settings,
    sub: Subscriber,
    transport: Transport | None,
    now: datetime,
    dry_run: bool,
    sleep: Callable[[float], None],
    backoff: Callable[[int], float],
    day: str,
    force: bool,
    ranking: Ranking,
) -> Outcome:
    streak, reason = rejected_streak(db, _id(sub))
    if streak >= REJECTED_LIMIT:
        return Outcome(
            sub.email,
            "paused",
            detail=(
                f"{streak} emails in a row rejected (last: {reason}); run"
                f" `digest subscribe {sub.email}` to try again"
            ),
        )
    draft = _draft(db, settings, sub, now, day, ranking, force=force)
    held = draft.held_back
    if draft.waiting:
        return Outcome(sub.email, "waiting", detail=draft.reason)
    if draft.delivery is None and draft.reason.startswith(_ALREADY):
        return Outcome(sub.email, "nothing", detail=draft.reason)
    if draft.delivery is None and not draft.paper_ids and not settings.digest.send_empty:
        return Outcome(sub.email, "nothing", detail=draft.reason, held_back=held)
    papers = _papers(db, draft.paper_ids, draft.reasons)
    rendered = render_email(settings, sub, papers, draft.digest_date)
    # Papers left out to keep the email under the clipping size stay due.
    shown = [p["id"] for p in papers[: rendered.papers]]
    retry = f"retry of the digest of {draft.digest_date}" if draft.delivery else ""
    if dry_run or transport is None:
        return Outcome(sub.email, "would-send", len(shown), detail=retry, held_back=held)
    stamp = now.replace(microsecond=0).isoformat()
    delivery = draft.delivery or start_delivery(
        db,
        _id(sub),
        shown,
        digest_date=draft.digest_date,
        now=stamp,
        message_id=new_message_id(settings),
        reasons=draft.reasons,
    )
    if delivery is None:  # another sender delivered these papers meanwhile
        return Outcome(sub.email, "nothing", detail="its papers were just delivered")
    if list(delivery.paper_ids) != shown:
        papers = _papers(db, delivery.paper_ids, delivery.reasons)
        rendered = render_email(settings, sub, papers, delivery.digest_date)
    msg = build_message(
        settings,
        sub,
        rendered,
        message_id=delivery.message_id,
        when=datetime.fromisoformat(delivery.created),
    )
    attempts, attempt = max(1, settings.email.retries), 1
    while True:
        try:
            where = transport.send(msg, sender(settings)[1], sub.email)
            break
        except SendFailure as failure:
            if not failure.temporary and not failure.server:
                mark_failed(db, delivery.id, str(failure), now=stamp)
                return Outcome(
                    sub.email,
                    "failed",
                    rendered.papers,
                    detail=f"{failure}; its papers stay due for the next send",
                )
            record_attempt(db, delivery.id, str(failure), now=stamp)
            if not failure.temporary or attempt >= attempts:
                tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                return Outcome(
                    sub.email,
                    "pending",
                    rendered.papers,
                    server_down=failure.server,
                    detail=f"{failure}{tries}; the digest is sent again next time",
                )
            sleep(backoff(attempt))
            attempt += 1
    mark_sent(db, delivery.id, now=stamp)
    return Outcome(sub.email, "sent", rendered.papers, detail=where, held_back=held)


def _id(sub: Subscriber) -> int:
    if sub.id is None:
        raise DigestError(f"{sub.email} is not a stored subscriber: `digest subscribe` it first")
    return sub.id


def _draft(
    db: Database,
    settings: Settings,
    sub: Subscriber,
    now: datetime,
    day: str,
    ranking: Ranking,
    *,
    force: bool,
) -> _Draft:
    pending = pending_delivery(db, _id(sub))
    if pending is not None:
        return _Draft(pending, pending.paper_ids, pending.digest_date, "", reasons=pending.reasons)
    if not force and sent_on_day(db, _id(sub), day):
        return _Draft(None, [], day, f"{_ALREADY} of {day} (`digest send --force` sends another)")
    selection = select_papers(db, settings, sub, now)
    waiting = selection.waits_until is not None
    if waiting:
        return _Draft(None, [], day, selection.reason, waiting)
    # Ranked before the cap: the reader's best papers go first, the rest roll over.
    plan = ranking.plan(sub, selection.due, selection.cap)
    held = ""
    reason = selection.reason
    if plan.held_back:
        floor = f"min relevance {sub.min_relevance:g}"
        if plan.paper_ids:
            count = f"{plan.held_back} paper{'' if plan.held_back == 1 else 's'}"
            held = f"{count} under {floor} held back"
        else:
            reason = f"all {plan.held_back} due papers are under {floor} (held back)"
    return _Draft(None, plan.paper_ids, day, reason, reasons=plan.reasons, held_back=held)


def _papers(
    db: Database, ids: list[int], reasons: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """Papers with their latest summary (and why each is there), in the digest's own order."""
    if not ids:
        return []
    rows = {r["id"]: r for r in listing(db, paper_ids=ids)}
    return [{**rows[i], "reason": (reasons or {}).get(i)} for i in ids if i in rows]

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
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest.backoff import backoff as backoff_rule
from digest.config import Settings
from digest.dates import digest_day
from digest.errors import DigestError, MailError
from digest.locks import hold
from digest.mail.bodies import SharedBodies
from digest.mail.compose import new_message_id, render_email, sender, wire_message
from digest.mail.draft import ALREADY, draft_for, papers_of, reader_id
from digest.mail.send_report import Outcome, SendReport, commit_result
from digest.mail.sendpool import Job, Pacer, SendPool
from digest.mail.transport import Transport, make_transport
from digest.models import Subscriber
from digest.rank import Ranking
from digest.store import db_file
from digest.store.deliveries import (
    REJECTED_LIMIT,
    rejected_streak,
    start_delivery,
)
from digest.store.prune import prune
from digest.store.rank_record import note_held_back
from digest.store.subscribers import get_subscriber, list_subscribers

# How long a second sender waits for the first one to finish.
LOCK_WAIT_S = 3600.0
log = logging.getLogger(__name__)


def default_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): the one rule
    for the retries digest runs itself (digest/backoff.py), 2, 4, 8 ... 60."""
    return backoff_rule(attempt)


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
    args = (db, settings, dry_run, subscriber, transport, now, sleep, backoff, should_stop)
    if where is None or dry_run:
        return _send_all(*args, day, force)
    with hold(where, "send", wait=LOCK_WAIT_S, should_stop=should_stop, waiting=log.warning):
        report = _send_all(*args, day, force)
        # Delivery detail older than the window is pruned after each real send
        # (still under the send lock: no digest is being recorded meanwhile).
        # The earlier of the clock and the digest day: never prune what that day needs.
        day_start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        prune(db, settings.digest.max_age_days, min(now, day_start))
        return report


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
        if subs[0].paused:
            raise DigestError(
                f"{subs[0].email} paused their emails on the manage page: they resume there,"
                f" or `digest subscribe {subs[0].email}` resumes them (their filters are kept)"
            )
        if not subs[0].active:
            raise DigestError(f"{subs[0].email} unsubscribed: `digest subscribe` it to resume")
    else:
        subs = list_subscribers(db, active_only=True, longest_waiting_first=True)
    report = SendReport(dry_run=dry_run)
    if not subs:
        return report
    ranking = Ranking(db, settings, now)
    ranking.prepare(subs)
    bodies = SharedBodies(settings)
    if dry_run:
        for sub in subs:
            if should_stop is not None and should_stop():
                break
            report.outcomes.append(
                _prepare(db, settings, sub, now, day, force, ranking, dry_run=True, bodies=bodies)
            )
        return report
    pool = SendPool(
        (lambda: transport) if transport is not None else (lambda: make_transport(settings)),
        connections=1 if transport is not None else settings.email.connections,
        attempts=settings.email.retries,
        pacer=Pacer(settings.email.max_per_minute, sleep=sleep),
        sleep=sleep,
        backoff=backoff,
    )
    slots = report.outcomes
    stamp = now.replace(microsecond=0).isoformat()
    try:
        for sub in subs:
            if should_stop is not None and should_stop():
                break
            if pool.server_down is not None:
                failing = f"the mail server is failing ({pool.server_down})"
                slots.append(Outcome(sub.email, "skipped", detail=failing))
                continue
            prepared = _prepare(
                db, settings, sub, now, day, force, ranking, slot=len(slots), bodies=bodies
            )
            if isinstance(prepared, Outcome):
                slots.append(prepared)
                continue
            slots.append(prepared.context[1])  # replaced when its result comes back
            for result in pool.submit(prepared):
                slots[result.job.slot] = commit_result(db, result, stamp)
        for result in pool.finish():
            slots[result.job.slot] = commit_result(db, result, stamp)
    finally:
        pool.close()
    log.info("%d renders for %d emails filled in from a shared one", bodies.rendered, bodies.filled)
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
    draft = draft_for(db, settings, sub, now, digest_day(settings, now), ranking, force=True)
    if draft.waiting:
        raise MailError(f"{sub.email} would get no email now: {draft.reason}")
    if draft.delivery is None and not draft.paper_ids and not settings.digest.send_empty:
        raise MailError(
            f"{sub.email} would get no email now: {draft.reason}"
            " ([digest] send_empty = true sends one anyway)"
        )
    papers = papers_of(db, draft.paper_ids, draft.reasons)
    rendered = render_email(settings, sub, papers, draft.digest_date)
    return rendered.html if fmt == "html" else rendered.text


def _prepare(
    db: Database,
    settings: Settings,
    sub: Subscriber,
    now: datetime,
    day: str,
    force: bool,
    ranking: Ranking,
    *,
    dry_run: bool = False,
    slot: int = 0,
    bodies: SharedBodies | None = None,
) -> Any:
    """Everything before the hand-over, in the main thread (it alone uses the
    database): the reader's state, the selection, the recorded digest and its
    rendered message. An Outcome when nothing is to be sent (or in a dry run),
    else the Job, whose context is (delivery id, the Outcome if it never returns)."""
    streak, reason = rejected_streak(db, reader_id(sub))
    if streak >= REJECTED_LIMIT:
        return Outcome(
            sub.email,
            "paused",
            detail=(
                f"{streak} emails in a row rejected (last: {reason}); run"
                f" `digest subscribe {sub.email}` to try again"
            ),
        )
    draft = draft_for(db, settings, sub, now, day, ranking, force=force)
    if not dry_run and draft.held is not None and sub.min_relevance is not None:
        note_held_back(db, reader_id(sub), draft.held, sub.min_relevance, sub.interests)
    held = draft.held_back
    if draft.waiting:
        return Outcome(sub.email, "waiting", detail=draft.reason)
    if draft.delivery is None and draft.reason.startswith(ALREADY):
        return Outcome(sub.email, "nothing", detail=draft.reason)
    if draft.delivery is None and not draft.paper_ids and not settings.digest.send_empty:
        return Outcome(sub.email, "nothing", detail=draft.reason, held_back=held)
    bodies = bodies or SharedBodies(settings)
    papers = papers_of(db, draft.paper_ids, draft.reasons)
    rendered = bodies.render(sub, papers, draft.digest_date)
    # Papers left out to keep the email under the clipping size stay due.
    shown = [p["id"] for p in papers[: rendered.papers]]
    if dry_run:
        retry = f"retry of the digest of {draft.digest_date}" if draft.delivery else ""
        return Outcome(sub.email, "would-send", len(shown), detail=retry, held_back=held)
    delivery = draft.delivery or start_delivery(
        db,
        reader_id(sub),
        shown,
        digest_date=draft.digest_date,
        now=now.replace(microsecond=0).isoformat(),
        message_id=new_message_id(settings),
        reasons=draft.reasons,
    )
    if delivery is None:  # another sender delivered these papers meanwhile
        return Outcome(sub.email, "nothing", detail="its papers were just delivered")
    if list(delivery.paper_ids) != shown:
        papers = papers_of(db, delivery.paper_ids, delivery.reasons)
        rendered = bodies.render(sub, papers, delivery.digest_date)
    msg = wire_message(
        settings,
        sub,
        rendered,
        message_id=delivery.message_id,
        when=datetime.fromisoformat(delivery.created),
    )
    pending = Outcome(
        sub.email, "pending", rendered.papers, detail="not sent: interrupted", held_back=held
    )
    return Job(slot, msg, sender(settings)[1], sub.email, context=(delivery.id, pending))

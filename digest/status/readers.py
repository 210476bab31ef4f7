"""`digest status` in words for each reader: the last email, what is due, what failed.

Everything here is read from the store (the record of past sends and the
counts of what is due); nothing calls a model or the network.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlite_utils import Database

from digest.cadence import describe
from digest.config import Settings
from digest.models import Subscriber
from digest.roster import limits, nothing_due
from digest.store.deliveries import (
    REJECTED_LIMIT,
    last_error,
    last_sent,
    pending_delivery,
    rejected_streak,
)
from digest.store.due import select_papers
from digest.store.subscribers import get_subscriber, list_subscribers
from digest.text import plural


def reader_lines(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    emails: list[str] | None = None,
) -> list[str]:
    """One line per subscriber (or per address in `emails`) for `digest status`:
    last email, papers pending, last error, and why nothing was sent when nothing was."""
    now = now or datetime.now(UTC)
    subs = list_subscribers(db) if emails is None else [get_subscriber(db, e) for e in emails]
    if not subs:
        return ["no subscribers: add one with `digest subscribe EMAIL`"]
    return [_reader_line(db, settings, sub, now) for sub in subs]


def _reader_line(db: Database, settings: Settings, sub: Subscriber, now: datetime) -> str:
    if not sub.active or sub.id is None:
        if sub.paused:
            return f"{sub.email}: paused (by the reader; filters kept for the resume)"
        return f"{sub.email}: unsubscribed"
    parts = [] if sub.frequency == "daily" else [describe(sub.frequency, sub.weekday)]
    last = last_sent(db, sub.id)
    if last:
        parts.append(f"last email {_short(last['sent_at'])} ({_papers(last['paper_count'])})")
    else:
        parts.append("never emailed")
    selection = select_papers(db, sub, now, limits(settings))
    pending = pending_delivery(db, sub.id)
    if pending:
        parts.append(
            f"digest of {pending.digest_date} ({_papers(len(pending.paper_ids))}) not sent"
            f" after {plural(pending.attempts, 'attempt')}:"
            f" {'the mail server' if settings.email.backend == 'smtp' else 'delivery'} failing,"
            " retried next send"
        )
    if selection.matching:
        waiting = selection.matching - len(pending.paper_ids) if pending else selection.matching
        parts.append(f"{_papers(max(waiting, 0))} pending")
        if selection.waits_until:
            parts.append(f"next email on {selection.waits_until}")
    elif not pending:
        parts.append(f"nothing pending: {nothing_due(selection, sub)}")
    streak, _ = rejected_streak(db, sub.id)
    error = last_error(db, sub.id)
    if error:
        parts.append(f"last error {_short(error[0])}: {error[1]}")
    if streak >= REJECTED_LIMIT:
        parts.append(
            f"paused after {streak} rejected emails: run `digest subscribe {sub.email}`"
            " to try again"
        )
    elif streak:
        parts.append("rejected by the server; tried again next send")
    return f"{sub.email}: " + "; ".join(parts)


def _short(stamp: str) -> str:
    return stamp[:16].replace("T", " ") + " UTC"


def _papers(n: int) -> str:
    return f"{plural(n, 'paper')}"

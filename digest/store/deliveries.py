"""Deliveries: the one place that decides what "delivered" means.

A digest for one subscriber is a `deliveries` row plus its exact paper list
(a shared `selections` row), created *before* anything is sent and left `pending`
until the server accepts the message. Only then, in one transaction, does
the row become `sent` and the papers enter `delivered`. So a crash or a
failure at any point loses nothing: the pending digest is sent again, with
the same papers and the same Message-ID, by the next `digest send`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from digest.errors import MailError
from digest.secrets import scrub
from digest.store import inserted_id, utcnow
from digest.store.selections import selection as selection_papers
from digest.store.selections import selection_id

# Consecutive rejected digests (5xx) after which an address is paused until
# someone runs `digest subscribe` for it again.
REJECTED_LIMIT = 3


@dataclass
class Delivery:
    id: int
    subscriber_id: int
    message_id: str
    digest_date: str
    status: str  # pending | sent | failed | superseded (left pending by an old version)
    attempts: int
    created: str
    sent_at: str | None = None
    error: str | None = None
    paper_ids: list[int] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # why each paper is in it


def pending_delivery(db: Database, subscriber_id: int) -> Delivery | None:
    """The digest started for this subscriber but not yet accepted by a server."""
    rows = list(
        db.query(
            "SELECT * FROM deliveries WHERE subscriber_id = ? AND status = 'pending'",
            [subscriber_id],
        )
    )
    return _with_papers(db, rows[0]) if rows else None


def start_delivery(
    db: Database,
    subscriber_id: int,
    paper_ids: list[int],
    *,
    message_id: str,
    digest_date: str,
    now: str | None = None,
    reasons: dict[int, str] | None = None,
) -> Delivery | None:
    """Record a new digest and its paper list before sending it.

    Papers delivered to this subscriber meanwhile (by another process, between
    selection and now) are dropped inside the write transaction, so a paper can
    never enter two digests. Returns None when none is left. Raises MailError
    if another process started a digest for this subscriber.
    """
    now = now or utcnow()
    try:
        with db.atomic():
            marks = ",".join("?" * len(paper_ids))
            done = {
                r[0]
                for r in db.execute(
                    f"SELECT paper_id FROM delivered WHERE subscriber_id = ?"
                    f" AND paper_id IN ({marks})",
                    [subscriber_id, *paper_ids],
                )
            }
            fresh = [pid for pid in paper_ids if pid not in done]
            if paper_ids and not fresh:
                return None
            pk = inserted_id(
                db.table("deliveries").insert(
                    {
                        "subscriber_id": subscriber_id,
                        "message_id": message_id,
                        "digest_date": digest_date,
                        "status": "pending",
                        "attempts": 0,
                        "created": now,
                        "paper_count": len(fresh),
                        "selection_id": selection_id(db, fresh, reasons),
                    }
                )
            )
    except sqlite3.IntegrityError as exc:
        raise MailError(
            "another `digest send` is delivering to this subscriber: let it finish"
        ) from exc
    delivery = pending_delivery(db, subscriber_id)
    if delivery is None or delivery.id != pk:
        raise MailError("the digest just recorded is gone: is another process deleting rows?")
    return delivery


def sent_on_day(db: Database, subscriber_id: int, digest_date: str) -> bool:
    """Whether this subscriber already got (the server accepted) the digest of that day."""
    row = db.execute(
        "SELECT 1 FROM deliveries WHERE subscriber_id = ? AND digest_date = ? AND status = 'sent'"
        " LIMIT 1",
        [subscriber_id, digest_date],
    ).fetchone()
    return row is not None


def record_attempt(db: Database, delivery_id: int, error: str, now: str | None = None) -> None:
    """A failed attempt: the digest stays pending, with the error for `digest status`."""
    db.execute(
        "UPDATE deliveries SET attempts = attempts + 1, error = ? WHERE id = ?",
        [f"{now or utcnow()} {scrub(error)}", delivery_id],
    )


def mark_failed(db: Database, delivery_id: int, error: str, now: str | None = None) -> None:
    """The server refused the message for good: its papers stay undelivered."""
    db.execute(
        "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, error = ?"
        " WHERE id = ? AND status = 'pending'",
        [f"{now or utcnow()} {scrub(error)}", delivery_id],
    )


def mark_sent(db: Database, delivery_id: int, now: str | None = None) -> None:
    """The server accepted the message: the digest and its papers count as delivered.

    One transaction, so a paper is never recorded without its delivery or
    the other way round.
    """
    now = now or utcnow()
    with db.atomic():
        db.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, attempts = attempts + 1"
            " WHERE id = ? AND status = 'pending'",
            [now, delivery_id],
        )
        db.execute(
            "UPDATE subscribers SET last_sent = ?"
            " WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = ?)",
            [now, delivery_id],
        )
        db.execute(
            "INSERT OR IGNORE INTO delivered (subscriber_id, paper_id, delivery_id)"
            " SELECT d.subscriber_id, j.value, d.id FROM deliveries d"
            " JOIN selections s ON s.id = d.selection_id, json_each(s.papers) j"
            " WHERE d.id = ?",
            [delivery_id],
        )


def rejected_streak(db: Database, subscriber_id: int) -> tuple[int, str | None]:
    """How many digests in a row the server refused for good since the last
    accepted one (or the last `digest subscribe`), and the latest reason."""
    row = db.execute(
        "SELECT updated, last_sent FROM subscribers WHERE id = ?", [subscriber_id]
    ).fetchone()
    since = max(row[0] or "", row[1] or "") if row else ""
    rows = db.execute(
        "SELECT error FROM deliveries WHERE subscriber_id = ? AND status = 'failed'"
        " AND created >= ? ORDER BY id DESC",
        [subscriber_id, since],
    ).fetchall()
    return len(rows), (rows[0][0] if rows else None)


def last_sent(db: Database, subscriber_id: int) -> dict[str, Any] | None:
    """The newest digest the server accepted for this subscriber: sent_at, paper_count."""
    rows = list(
        db.query(
            "SELECT sent_at, paper_count FROM deliveries"
            " WHERE subscriber_id = ? AND status = 'sent'"
            " ORDER BY digest_date DESC, id DESC LIMIT 1",
            [subscriber_id],
        )
    )
    return rows[0] if rows else None


def last_error(db: Database, subscriber_id: int) -> tuple[str, str] | None:
    """The latest error (its time stamp, its text) newer than the last accepted
    digest: older ones are stale."""
    row = db.execute(
        "SELECT error FROM deliveries WHERE subscriber_id = ? AND status IN ('pending', 'failed')"
        " AND error IS NOT NULL AND created >= ?"
        " ORDER BY id DESC LIMIT 1",
        [subscriber_id, _last_sent_stamp(db, subscriber_id) or ""],
    ).fetchone()
    if not row:
        return None
    stamp, _, message = row[0].partition(" ")
    return stamp, message


def _last_sent_stamp(db: Database, subscriber_id: int) -> str | None:
    row = db.execute("SELECT last_sent FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    return row[0] if row else None


def _with_papers(db: Database, row: dict) -> Delivery:
    ids, reasons = selection_papers(db, row["selection_id"])
    keys = Delivery.__dataclass_fields__
    return Delivery(
        **{k: v for k, v in row.items() if k in keys},
        paper_ids=ids,
        reasons=reasons,
    )

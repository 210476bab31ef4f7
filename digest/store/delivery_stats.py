"""Counts over all readers for `digest status`, in a handful of indexed queries.

Per-reader lines (digest.status.readers) cost a selection per reader; at thousands
of readers the summary instead counts readers and recent digests in the store,
which holds only the window's deliveries (digest/store/prune.py), and lists
only the readers who need attention.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from digest.store.prune import pruned_counts

ATTENTION_SHOWN = 10


def delivery_summary(db: Database) -> dict[str, Any]:
    """Readers by state, the latest digest day and what happened on it, and the
    ids of readers whose latest digest failed or waits for a retry."""
    one = lambda sql, *p: db.execute(sql, p).fetchone()  # noqa: E731
    readers, active, paused, weekly, never = one(
        "SELECT COUNT(*), COALESCE(SUM(active), 0), COALESCE(SUM(NOT active AND paused), 0),"
        " COALESCE(SUM(active AND frequency = 'weekly'), 0),"
        " COALESCE(SUM(active AND last_sent IS NULL), 0) FROM subscribers"
    )
    day = one("SELECT MAX(digest_date) FROM deliveries WHERE status = 'sent'")[0]
    sent_that_day = (
        one(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'sent' AND digest_date = ?",
            day,
        )[0]
        if day
        else 0
    )
    pending = one("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")[0]
    attention = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT d.subscriber_id FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.status IN ('pending', 'failed') AND s.active"
            " AND d.created >= COALESCE(s.last_sent, '') ORDER BY d.subscriber_id"
        )
    ]
    return {
        "readers": readers,
        "active": active,
        "paused": paused,
        "weekly": weekly,
        "never_emailed": never,
        "last_digest_day": day,
        "sent_last_day": sent_that_day,
        "pending": pending,
        "need_attention": len(attention),
        "attention_ids": attention[:ATTENTION_SHOWN],
        "pruned": pruned_counts(db),
    }


def emails_of(db: Database, ids: list[int]) -> list[str]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [
        r[0]
        for r in db.execute(
            f"SELECT email FROM subscribers WHERE id IN ({marks}) ORDER BY email", ids
        )
    ]

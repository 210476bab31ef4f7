"""Pruning: delivery state kept for the window that matters, history kept compactly.

"Is this paper due for this reader?" only ever asks about papers first seen
within `[digest] max_age_days` (a week for weekly readers). Once a paper is
older than that it can never be due again, so its `delivered` rows go; a sent
digest older than the window moves to `delivery_archive` (reader, digest day,
Message-ID, and the shared `selections` row with its papers), which still
answers "what did reader X get on day D". Failed digests older than the window
go (their papers stayed due and were sent later, or aged out).

The horizon (the first-seen time before which everything was pruned) is
recorded, and selection never reaches behind it: raising max_age_days later
cannot make an already-delivered paper due again.

Work is done in batches of short write transactions, so a reader of the
database (the web application, `digest status`) never waits long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

from digest.store import utcnow

# Kept beyond the longest window (max_age_days, or a week), so a digest day
# that starts late in another time zone still finds yesterday's rows.
MARGIN = timedelta(days=1)
BATCH = 5000
READERS_PER_BATCH = 1000


def prune_horizon(max_age_days: int, now: datetime) -> str:
    """The timestamp before which delivery detail is no longer needed."""
    keep = timedelta(days=max(max_age_days, 7)) + MARGIN
    return (now - keep).replace(microsecond=0).isoformat()


def horizon(db: Database) -> str | None:
    """The horizon of the last prune: no paper first seen before it can be due."""
    row = db.execute("SELECT at FROM pruned WHERE what = 'horizon'").fetchone()
    return row[0] if row else None


def prune(db: Database, max_age_days: int, now: datetime) -> dict[str, int]:
    """Prune delivery detail older than the window; returns the rows pruned by kind."""
    cut = prune_horizon(max_age_days, now)
    done = {"delivered": 0, "archived": 0, "failed": 0}
    # Only papers that left the window since the last prune: older ones are gone.
    old = "SELECT id FROM papers WHERE first_seen >= ? AND first_seen < ?"
    window = [horizon(db) or "", cut]
    top = db.execute("SELECT MAX(id) FROM subscribers").fetchone()[0] or 0
    for first in range(0, top + 1, READERS_PER_BATCH):  # papers that left the window
        with db.atomic():
            done["delivered"] += db.execute(
                "DELETE FROM delivered WHERE subscriber_id >= ? AND subscriber_id < ?"
                f" AND paper_id IN ({old})",
                [first, first + READERS_PER_BATCH, *window],
            ).rowcount
    cut_day = cut[:10]
    while True:  # sent digests older than the window: keep the compact record
        with db.atomic():
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM deliveries WHERE status = 'sent' AND digest_date < ? LIMIT ?",
                    [cut_day, BATCH],
                )
            ]
            marks = ",".join("?" * len(ids))
            if ids:
                db.execute(
                    "INSERT OR IGNORE INTO delivery_archive"
                    " (subscriber_id, digest_date, id, message_id, selection_id)"
                    " SELECT subscriber_id, digest_date, id, message_id, selection_id"
                    f" FROM deliveries WHERE id IN ({marks})",
                    ids,
                )
                db.execute(f"DELETE FROM deliveries WHERE id IN ({marks})", ids)
        done["archived"] += len(ids)
        if len(ids) < BATCH:
            break
    with db.atomic():
        done["failed"] = db.execute(
            "DELETE FROM deliveries WHERE status = 'failed' AND digest_date < ?", [cut_day]
        ).rowcount
        stamp = utcnow()
        for what, count in done.items():
            db.execute(
                "INSERT INTO pruned (what, count, at) VALUES (?, ?, ?) ON CONFLICT (what)"
                " DO UPDATE SET count = count + excluded.count, at = excluded.at",
                [what, count, stamp],
            )
        db.execute(
            "INSERT INTO pruned (what, count, at) VALUES ('horizon', NULL, ?) ON CONFLICT"
            " (what) DO UPDATE SET at = MAX(at, excluded.at)",
            [cut],
        )
    return done


def pruned_counts(db: Database) -> dict[str, int]:
    """Rows pruned so far, by kind (delivered, archived, failed)."""
    return {
        r[0]: r[1] for r in db.execute("SELECT what, count FROM pruned WHERE what != 'horizon'")
    }


def history(db: Database, subscriber_id: int) -> list[tuple[str, str, list[int]]]:
    """(digest day, Message-ID, papers) of every email this reader got, oldest first,
    archived or not."""
    from digest.store.selections import paper_ids

    rows = db.execute(
        "SELECT digest_date, id, message_id, selection_id FROM delivery_archive"
        " WHERE subscriber_id = ? UNION ALL"
        " SELECT digest_date, id, message_id, selection_id FROM deliveries"
        " WHERE subscriber_id = ? AND status = 'sent' ORDER BY 1, 2",
        [subscriber_id, subscriber_id],
    ).fetchall()
    return [(day, mid, paper_ids(db, sel)) for day, _, mid, sel in rows]

"""What each live source answered last time: validators, outcome, and when.

Rows are keyed by (source, key): for Hugging Face the key is the day
fetched (YYYY-MM-DD), for arXiv "rss:<category>" or "api:<category>".
The ETag / Last-Modified of the last good reply make the next request
conditional; the days fetched (and failed) tell the daily run where to
resume after the machine was off.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from digest.store import utcnow

_DAY = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"


def get_state(db: Database, source: str, key: str) -> dict[str, Any] | None:
    rows = list(
        db.table("fetch_state").rows_where("source = ? AND key = ?", [source, key], limit=1)
    )
    return rows[0] if rows else None


def mark_ok(
    db: Database,
    source: str,
    key: str,
    *,
    etag: str | None,
    last_modified: str | None,
    now: str | None = None,
) -> None:
    """A good reply was stored (or was unchanged): keep its validators, clear the error."""
    db.table("fetch_state").upsert(
        {
            "source": source,
            "key": key,
            "etag": etag,
            "last_modified": last_modified,
            "fetched_at": now or utcnow(),
            "status": "ok",
            "error": None,
        },
        pk=("source", "key"),
    )


def mark_failed(db: Database, source: str, key: str, error: str, now: str | None = None) -> None:
    """A fetch failed: record why, keeping the validators of the last good reply."""
    db.table("fetch_state").upsert(
        {
            "source": source,
            "key": key,
            "fetched_at": now or utcnow(),
            "status": "error",
            "error": error,
        },
        pk=("source", "key"),
    )


def resume_day(db: Database, source: str, not_before: str) -> str | None:
    """The day a catch-up starts from: the last day fetched successfully, or an
    earlier day (not before `not_before`) whose last fetch failed. None: no history."""
    row = db.execute(
        "SELECT MIN(key) FROM fetch_state WHERE source = ? AND key GLOB ? AND ("
        " (status = 'error' AND key >= ?) OR key = (SELECT MAX(key) FROM fetch_state"
        "  WHERE source = ? AND status = 'ok' AND key GLOB ?))",
        [source, _DAY, not_before, source, _DAY],
    ).fetchone()
    return row[0] if row else None


def states(db: Database) -> list[dict[str, Any]]:
    """Every source's last outcome, newest first (for `digest status`)."""
    return list(db.query("SELECT * FROM fetch_state ORDER BY fetched_at DESC, source, key"))


def latest_source(db: Database, location: str) -> dict[str, Any] | None:
    """The last `sources` row stored from this URL (what an unchanged reply still holds)."""
    rows = list(
        db.query("SELECT * FROM sources WHERE location = ? ORDER BY id DESC LIMIT 1", [location])
    )
    return rows[0] if rows else None

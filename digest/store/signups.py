"""Sign-ups waiting for their confirmation click, and the web forms' rate limits.

A sign-up is only a request: the subscriber is created (or reactivated) when
the emailed link is clicked, so nobody can subscribe an address they cannot
read. Each link works once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from digest.errors import DigestError
from digest.models import Subscriber
from digest.store import inserted_id, utcnow
from digest.store.subscribers import save_subscriber


class SignupUsed(DigestError):
    """The confirmation link was clicked before (or the sign-up is gone)."""


def create_signup(db: Database, sub: Subscriber, now: str | None = None) -> int:
    """Record a sign-up for `sub` (already validated); returns its id."""
    with db.atomic():
        return inserted_id(
            db.table("signups").insert(
                {
                    "email": sub.email,
                    "name": sub.name,
                    "tags": json.dumps(list(sub.tags)),
                    "keywords": json.dumps(list(sub.keywords)),
                    "frequency": sub.frequency,
                    "created": now or utcnow(),
                    "confirmed": None,
                }
            )
        )


def get_signup(db: Database, signup_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM signups WHERE id = ?", [signup_id]))
    return rows[0] if rows else None


def confirm_signup(
    db: Database, signup_id: int, sub: Subscriber, now: str | None = None
) -> tuple[int, str]:
    """Create or reactivate `sub`, the subscriber of a sign-up (checked by the
    caller from the sign-up's row), once; returns (id, what).

    Marking the sign-up used and saving the subscriber are one transaction:
    two clicks at once confirm once, the second raises SignupUsed.
    """
    now = now or utcnow()
    with db.atomic():
        row = get_signup(db, signup_id)  # under the write lock: no second click in between
        if row is None or row["confirmed"]:
            raise SignupUsed("this confirmation link was already used")
        db.execute("UPDATE signups SET confirmed = ? WHERE id = ?", [now, signup_id])
        return save_subscriber(db, sub, now, touch=True)


def pending_signups(db: Database, since: str) -> int:
    """Sign-ups made since `since` that nobody confirmed yet (for `digest status`)."""
    return db.execute(
        "SELECT COUNT(*) FROM signups WHERE confirmed IS NULL AND created >= ?", [since]
    ).fetchone()[0]


def allow(db: Database, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one attempt for `key` unless `limit` were made within `window`.

    Stored in SQLite so every worker and process shares the count; rows older
    than a day are pruned as we go.
    """
    stamp = now.replace(microsecond=0).isoformat()
    start = (now - window).replace(microsecond=0).isoformat()
    with db.atomic():
        db.execute(
            "DELETE FROM web_hits WHERE at < ?",
            [(now - max(window, timedelta(days=1))).replace(microsecond=0).isoformat()],
        )
        used = db.execute(
            "SELECT COUNT(*) FROM web_hits WHERE key = ? AND at >= ?", [key, start]
        ).fetchone()[0]
        if used >= limit:
            return False
        db.execute("INSERT INTO web_hits (key, at) VALUES (?, ?)", [key, stamp])
        return True

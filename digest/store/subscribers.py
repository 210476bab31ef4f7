"""Subscribers: who they are, what they asked for, and the ones the config lists.

`digest subscribe` on a known address changes the settings it is given and
keeps the others (and reactivates it) rather than adding a second row: a
reader who paused on their manage page, or left and came back, keeps their
topics and limits. Unsubscribing keeps the row, so the record of what was
delivered stays.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from digest.errors import InputError
from digest.identity import normalize_email
from digest.models import Subscriber
from digest.store import inserted_id, utcnow


def save_subscriber(
    db: Database, sub: Subscriber, now: str | None = None, *, touch: bool = False
) -> tuple[int, str]:
    """Create or update (and reactivate) a subscriber; returns (id, created|updated|unchanged).

    `touch` marks an explicit `digest subscribe`: it counts as an update even
    when nothing changed, which clears a pause after rejected emails.
    """
    now = now or utcnow()
    values = {
        "name": sub.name,
        "tags": json.dumps(list(sub.tags)),
        "exclude_tags": json.dumps(list(sub.exclude_tags)),
        "keywords": json.dumps(list(sub.keywords)),
        "max_papers": sub.max_papers,
        "active": int(sub.active),
        "frequency": sub.frequency,
        "weekday": sub.weekday,
        "match": sub.match,
        "interests": sub.interests,
        "min_relevance": sub.min_relevance,
        "paused": int(sub.paused and not sub.active),
    }
    with db.atomic():
        row = _row(db, sub.email)
        if row is None:
            pk = inserted_id(
                db.table("subscribers").insert(
                    {
                        "email": sub.email,
                        **values,
                        "created": now,
                        "updated": now,
                        "active_since": now if sub.active else None,
                    }
                )
            )
            return pk, "created"
        if all(row[k] == v for k, v in values.items()):
            if touch:
                db.table("subscribers").update(row["id"], {"updated": now})
            return row["id"], "unchanged"
        if sub.active and not row["active"]:
            values["active_since"] = now
        # What the old settings held back says nothing about the new ones.
        db.table("subscribers").update(row["id"], {**values, "updated": now, "held_back": None})
        return row["id"], "updated"


def unsubscribe(db: Database, email: str, now: str | None = None) -> bool:
    """Stop sending to `email`; False if it was already unsubscribed."""
    row = _row(db, normalize_email(email))
    if row is None:
        raise InputError(f"{email} is not a subscriber: see `digest subscribers`")
    return unsubscribe_id(db, row["id"], now)


def unsubscribe_id(db: Database, subscriber_id: int, now: str | None = None) -> bool:
    """Stop sending to a subscriber by id; False if already stopped.

    Their token_version is bumped in the same statement, so manage links in
    the emails they were sent stop working (digest/signing.py).
    """
    with db.atomic():
        row = db.execute("SELECT active FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
        db.execute(
            "UPDATE subscribers SET active = 0, paused = 0, updated = ?,"
            " token_version = token_version + 1 WHERE id = ?",
            [now or utcnow(), subscriber_id],
        )
        return bool(row and row[0])


def subscriber_by_id(db: Database, subscriber_id: int) -> Subscriber | None:
    rows = list(db.query("SELECT * FROM subscribers WHERE id = ?", [subscriber_id]))
    return _to_subscriber(rows[0]) if rows else None


def get_subscriber(db: Database, email: str) -> Subscriber:
    row = _row(db, normalize_email(email))
    if row is None:
        raise InputError(f"{email} is not a subscriber: add it with `digest subscribe {email}`")
    return _to_subscriber(row)


def list_subscribers(
    db: Database, *, active_only: bool = False, longest_waiting_first: bool = False
) -> list[Subscriber]:
    """Subscribers by address, or (`longest_waiting_first`, the order a send
    serves them in) the never-emailed first, then by the oldest last email:
    a send cut short every day (a job timeout, SIGTERM) still reaches everyone
    in turn instead of the same first readers."""
    where = "active = 1" if active_only else "1"
    order = "last_sent IS NOT NULL, last_sent, email" if longest_waiting_first else "email"
    rows = db.query(f"SELECT * FROM subscribers WHERE {where} ORDER BY {order}")
    return [_to_subscriber(r) for r in rows]


@dataclass(frozen=True)
class Change:
    """One thing a sync of listed subscribers did: `what` is created | updated
    (the subscriber), liked (`detail`: the paper's title) or unknown-like
    (`detail`: the identifier no stored paper has yet)."""

    email: str
    what: str
    detail: str = ""


def sync_subscribers(
    db: Database, subs: list[Subscriber], likes: dict[str, list[str]]
) -> list[Change]:
    """Create or update the given (already validated) subscribers, and add the
    papers each `likes` (by address) as likes; returns what changed.

    The list is the source of truth for the filters of the addresses on it,
    but it never re-subscribes someone who unsubscribed (only `digest
    subscribe` does): an unsubscribe must stick.
    """
    changes = []
    for sub in subs:
        # One transaction per reader: an unsubscribe from the web between reading
        # `active` and saving cannot be written back over.
        with db.atomic():
            row = _row(db, sub.email)
            if row is not None and not row["active"]:
                sub = dataclasses.replace(sub, active=False, paused=bool(row["paused"]))
            sub_id, what = save_subscriber(db, sub)
            if what != "unchanged":
                changes.append(Change(sub.email, what))
            changes += _likes(db, sub_id, sub.email, likes.get(sub.email, []))
    return changes


def _likes(db: Database, sub_id: int, email: str, likes: list[str]) -> list[Change]:
    """Add the `like` papers as likes (never over a vote the reader gave)."""
    from digest.store.feedback import add_like, find_paper

    changes = []
    for ident in likes:
        try:
            paper = find_paper(db, ident)
        except InputError:
            changes.append(Change(email, "unknown-like", ident))
            continue
        if add_like(db, sub_id, paper["id"]):
            changes.append(Change(email, "liked", paper["title"]))
    return changes


def _row(db: Database, email: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM subscribers WHERE email = ?", [email]))
    return rows[0] if rows else None


def _to_subscriber(row: dict[str, Any]) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        tags=tuple(json.loads(row["tags"] or "[]")),
        exclude_tags=tuple(json.loads(row["exclude_tags"] or "[]")),
        keywords=tuple(json.loads(row["keywords"] or "[]")),
        max_papers=row["max_papers"],
        active=bool(row["active"]),
        frequency=row.get("frequency") or "daily",
        weekday=row.get("weekday"),
        match=row.get("match") or "all",
        interests=row.get("interests"),
        min_relevance=row.get("min_relevance"),
        token_version=row.get("token_version") or 0,
        paused=bool(row.get("paused")) and not row["active"],
    )

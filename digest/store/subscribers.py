"""Subscribers, and which papers each one is due.

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
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlite_utils import Database

from digest import cadence
from digest.errors import InputError
from digest.identity import normalize_email
from digest.models import Subscriber
from digest.store import inserted_id, utcnow
from digest.store.prune import horizon
from digest.store.summaries import SHOWN_TAGS, fts_query

# A new subscriber's first digest reaches back this far before the moment they
# subscribed (the latest daily batch), not over the whole max_age_days backlog.
WELCOME_WINDOW = timedelta(days=1)

_SUMMARISED = "EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)"


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
        db.table("subscribers").update(row["id"], {**values, "updated": now})
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


@dataclass(frozen=True)
class Limits:
    """What every reader's selection obeys: [digest] max_age_days and max_papers
    (the cap of a reader who set none), and the time zone that dates a digest
    day ([schedule] timezone), which decides a weekly reader's day."""

    max_age_days: int
    max_papers: int
    tz: tzinfo = UTC


@dataclass
class Selection:
    """The papers due to one subscriber now, and why there are none if so."""

    paper_ids: list[int]  # best rank first, at most the subscriber's cap
    matching: int  # all papers due (the ones past the cap wait for the next digest)
    new: int  # undelivered summarised papers in the window, before the filters
    unsummarised: int  # papers in the window still waiting for a summary
    since: str  # the window's start
    waits_until: str | None = None  # a weekly subscriber's next email day, when not today
    cadence: str = "daily"  # "daily" or "weekly on Monday"
    due: list[int] = dataclasses.field(default_factory=list)  # every due paper, best rank first
    cap: int = 0  # at most this many in one email

    @property
    def reason(self) -> str:
        """Why nothing is due, in words (empty when something is)."""
        if self.waits_until:
            so_far = f" ({self.matching} papers so far)" if self.matching else ""
            return f"{self.cadence}: next email on {self.waits_until}{so_far}"
        if self.matching:
            return ""
        if self.new:
            return f"all {self.new} new papers filtered out by tags/keywords"
        if self.unsummarised:
            return f"no new papers yet ({self.unsummarised} wait for a summary)"
        return "no new papers"


def select_papers(db: Database, sub: Subscriber, now: datetime, limits: Limits) -> Selection:
    """The papers `sub` should get now, best rank first, capped.

    Due: summarised, first seen within [digest] max_age_days (and at most
    WELCOME_WINDOW before the subscription began), not yet delivered to this
    subscriber, passing their filters (see digest.cadence for how tags,
    excluded tags and keywords combine). A weekly subscriber gets the best
    papers of the past week (by rank, then the most recent) on their day,
    and nothing on the other days.
    """
    weekly = sub.frequency == "weekly"
    since = now - (cadence.WEEK if weekly else timedelta(days=limits.max_age_days))
    row = _row(db, sub.email)
    started = row["active_since"] if row else None
    if started:
        welcome = cadence.WEEK if weekly else WELCOME_WINDOW
        since = max(since, datetime.fromisoformat(started) - welcome)
    since_s = since.replace(microsecond=0).isoformat()
    since_s = max(since_s, horizon(db) or "")  # nothing behind the prune horizon is due
    base = (
        "FROM papers p WHERE p.first_seen >= ? AND NOT EXISTS"
        " (SELECT 1 FROM delivered d WHERE d.subscriber_id = ? AND d.paper_id = p.id)"
    )
    params: list[Any] = [since_s, sub.id]
    one = lambda sql: db.execute(sql, params).fetchone()[0]  # noqa: E731
    unsummarised = one(f"SELECT COUNT(*) {base} AND NOT {_SUMMARISED}")
    new = one(f"SELECT COUNT(*) {base} AND {_SUMMARISED}")
    filters, fparams = _filters(sub)
    order = "p.best_rank, p.first_seen DESC, p.id" if weekly else "p.best_rank, p.first_seen, p.id"
    rows = db.execute(
        f"SELECT p.id {base} AND {_SUMMARISED}{filters} ORDER BY {order}", params + fparams
    ).fetchall()
    cap = sub.max_papers or limits.max_papers
    waits = None
    if weekly and sub.id is not None:
        last = db.execute(
            "SELECT MAX(digest_date) FROM deliveries WHERE subscriber_id = ? AND status = 'sent'",
            [sub.id],
        ).fetchone()[0]
        day = _day(now, limits.tz)
        joined = _day(datetime.fromisoformat(started), limits.tz).isoformat() if started else None
        waits = cadence.next_weekly(day, sub.weekday or cadence.DEFAULT_WEEKDAY, last, joined)
    return Selection(
        [] if waits else [r[0] for r in rows[:cap]],
        len(rows),
        new,
        unsummarised,
        since_s,
        waits.isoformat() if waits else None,
        cadence.describe(sub.frequency, sub.weekday),
        [] if waits else [r[0] for r in rows],
        cap,
    )


def _day(moment: datetime, tz: tzinfo) -> date:
    """The digest day of a moment (a naive one is UTC), as digest.dates dates a run."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def _filters(sub: Subscriber) -> tuple[str, list[Any]]:
    """SQL for the subscriber's filters: tags and keywords each match on any
    listed one; both must match (match "all") or either (match "any");
    excluded tags always remove a paper."""
    sql, params = "", []
    wanted: list[str] = []
    if sub.tags:
        wanted.append(
            f"EXISTS (SELECT 1 FROM json_each({SHOWN_TAGS})"
            f" WHERE value IN ({','.join('?' * len(sub.tags))}))"
        )
        params += list(sub.tags)
    if sub.keywords:
        wanted.append("p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)")
        params.append(" OR ".join(f"({fts_query(k)})" for k in sub.keywords))
    if wanted:
        sql += f" AND ({(' OR ' if sub.match == 'any' else ' AND ').join(wanted)})"
    if sub.exclude_tags:
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM json_each({SHOWN_TAGS})"
            f" WHERE value IN ({','.join('?' * len(sub.exclude_tags))}))"
        )
        params += list(sub.exclude_tags)
    return sql, params


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

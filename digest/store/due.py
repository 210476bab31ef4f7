"""Which papers each reader is due now: the window, their filters, their cadence.

The store is given the limits (digest.roster reads them from the settings)
and returns a Selection: ids and counts, never words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlite_utils import Database

from digest import cadence
from digest.models import Subscriber
from digest.store.prune import horizon
from digest.store.summaries import SHOWN_TAGS, fts_query

# A new subscriber's first digest reaches back this far before the moment they
# subscribed (the latest daily batch), not over the whole max_age_days backlog.
WELCOME_WINDOW = timedelta(days=1)

_SUMMARISED = "EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)"


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
    """The papers due to one subscriber now, and the counts that say why there
    are none if so (digest.roster.nothing_due puts them in words)."""

    paper_ids: list[int]  # best rank first, at most the subscriber's cap
    matching: int  # all papers due (the ones past the cap wait for the next digest)
    new: int  # undelivered summarised papers in the window, before the filters
    unsummarised: int  # papers in the window still waiting for a summary
    since: str  # the window's start
    waits_until: str | None = None  # a weekly subscriber's next email day, when not today
    due: list[int] = dataclasses.field(default_factory=list)  # every due paper, best rank first
    cap: int = 0  # at most this many in one email


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
    row = db.execute("SELECT active_since FROM subscribers WHERE email = ?", [sub.email]).fetchone()
    started = row[0] if row else None
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

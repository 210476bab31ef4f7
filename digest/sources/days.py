"""Which days a live fetch covers: one date, a range from a start date, or (neither)
every day since the last successful fetch, at most [sources] catchup_days back.

Days are UTC days: Hugging Face dates its lists in UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlite_utils import Database

from digest.config import Settings
from digest.errors import SourceError
from digest.store.fetch_state import resume_day

HF = "hf"
ARXIV = "arxiv"
MAX_DAYS = 366  # the longest range one command fetches

Day = dt.date | str | None


def hf_days(
    db: Database, settings: Settings, day: dt.date | None, since: dt.date | None, today: dt.date
) -> list[str]:
    if day and since:
        raise SourceError("hf: give a date or a start date, not both")
    if day:
        return [day.isoformat()]
    if since:
        first, last = day_span(since, today, HF)
    else:
        earliest = today - dt.timedelta(days=settings.sources.catchup_days - 1)
        resume = resume_day(db, HF, earliest.isoformat())
        # No history: yesterday too, since today's list fills up during the day.
        start = dt.date.fromisoformat(resume) if resume else today - dt.timedelta(days=1)
        first, last = min(max(start, earliest), today).isoformat(), today.isoformat()
    begin = dt.date.fromisoformat(first)
    count = (dt.date.fromisoformat(last) - begin).days + 1
    return [(begin + dt.timedelta(days=n)).isoformat() for n in range(count)]


def day_span(since: dt.date, today: dt.date, source: str) -> tuple[str, str]:
    if since > today:
        raise SourceError(f"{source}: start date {since} is after today ({today})")
    if (today - since).days >= MAX_DAYS:
        raise SourceError(
            f"{source}: start date {since} is more than {MAX_DAYS} days ago: "
            "fetch at most a year at once"
        )
    return since.isoformat(), today.isoformat()


def parse_day(value: Day, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SourceError(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None


def today_of(value: Day) -> dt.date:
    """Days are UTC days: Hugging Face dates its lists in UTC."""
    return parse_day(value, "today") or dt.datetime.now(dt.UTC).date()

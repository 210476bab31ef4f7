"""The digest day: one rule, computed once per run and passed down.

A digest is dated by the calendar day in the schedule's time zone
(`[schedule] timezone`), or UTC when none is set: a 07:00 run in Sydney
on 22 November is the digest of 22 November, not of 21 November (UTC).
The digest file name, the email subject and "one email per reader per
digest day" all use this date.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.config import Settings
from digest.errors import ConfigError


def zone(name: str | None) -> tzinfo:
    """An IANA time zone by name, or a ConfigError naming the key."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"[schedule] timezone {name!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)"
        ) from None


def digest_day(settings: Settings, now: datetime | None = None) -> str:
    """The digest day (YYYY-MM-DD) at `now` (default: this moment)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(zone(settings.schedule.timezone)).date().isoformat()

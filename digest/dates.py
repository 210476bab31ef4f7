"""When things happen: the digest day (one rule, computed once per run and passed
down) and the schedule's fire times (shared by `serve` and `status`).

A digest is dated by the calendar day in the schedule's time zone
(`[schedule] timezone`), or UTC when none is set: a 07:00 run in Sydney
on 22 November is the digest of 22 November, not of 21 November (UTC).
The digest file name, the email subject and "one email per reader per
digest day" all use this date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from digest.config import Settings


def zone(name: str | None) -> tzinfo:
    """An IANA time zone by name ([schedule] timezone is checked with the settings)."""
    return ZoneInfo(name or "UTC")


def digest_day(settings: Settings, now: datetime | None = None) -> str:
    """The digest day (YYYY-MM-DD) at `now` (default: this moment)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(zone(settings.schedule.timezone)).date().isoformat()


def timezone(settings: Settings) -> tzinfo:
    """The schedule's time zone: [schedule] timezone, else the machine's."""
    name = settings.schedule.timezone
    if not name:
        from tzlocal import get_localzone

        return get_localzone()
    return zone(name)


def trigger(settings: Settings) -> Any:  # an apscheduler CronTrigger
    """The CronTrigger for [schedule] cron (checked with the settings)."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(settings.schedule.cron, timezone=timezone(settings))


def next_run_time(settings: Settings, now: datetime) -> datetime:
    """When the schedule fires next after `now` (an aware datetime)."""
    return trigger(settings).get_next_fire_time(None, now)


def missed_run(settings: Settings, last_started: datetime | None, now: datetime) -> datetime | None:
    """The scheduled time missed since the last run, if any (None: nothing missed).

    With no run recorded at all there is nothing to catch up: the first run
    happens at the next scheduled time, or at once with --run-now.
    """
    if last_started is None:
        return None
    # Strictly after the last start: run times are stored to the second, so a run that
    # started at 07:00:00.4 reads as 07:00:00, which is itself a fire time.
    due = trigger(settings).get_next_fire_time(None, last_started + timedelta(seconds=1))
    return due if due is not None and due <= now else None

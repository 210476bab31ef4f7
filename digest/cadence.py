"""How often a subscriber hears from us, and how their filters combine.

A subscriber is `daily` (the default: every digest day with something new)
or `weekly` on one weekday. A weekly subscriber is due from their weekday
on until an email went to them: normally on the weekday itself, or on the
first run after it with something to send (a run missed while the machine
was off, or a weekday with nothing new, does not lose the week). So they get
at most one email per week (Monday to Monday for "mon"). A reader who
subscribes mid-week hears first on their next weekday.

Filters (`match`): excluded tags always remove a paper. Tags and keywords
each match when *any* of the listed ones does. With `match = "all"` (the
default, the behaviour before the option existed) a paper must match the
tags *and* the keywords when both are given; with `"any"` either is enough.
"""

from __future__ import annotations

import difflib
from datetime import date, timedelta

from digest.errors import DigestError

FREQUENCIES = ("daily", "weekly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MATCHES = ("all", "any")
DEFAULT_WEEKDAY = "mon"
WEEK = timedelta(days=7)


def check_frequency(value: str | None) -> str:
    """`daily` or `weekly` (any case); DigestError naming the choices otherwise."""
    word = (value or "daily").strip().lower()
    if word not in FREQUENCIES:
        raise DigestError(f"frequency {value!r}: use daily or weekly")
    return word


def check_weekday(value: str | None, frequency: str) -> str | None:
    """The weekday's three-letter name ("mon"); None for daily subscribers.

    Accepts "mon", "Monday", "MON"; a weekly subscription without one is on Monday.
    """
    if frequency != "weekly":
        if value:
            raise DigestError(
                "a weekday is only for weekly subscribers: set the frequency to weekly"
            )
        return None
    if not value:
        return DEFAULT_WEEKDAY
    word = value.strip().lower()
    for short, name in zip(WEEKDAYS, DAY_NAMES, strict=True):
        if word in (short, name.lower()):
            return short
    close = difflib.get_close_matches(word, WEEKDAYS + tuple(n.lower() for n in DAY_NAMES), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise DigestError(f"weekday {value!r}: {hint}use one of {', '.join(WEEKDAYS)}")


def check_match(value: str | None) -> str:
    word = (value or "all").strip().lower()
    if word not in MATCHES:
        raise DigestError(f"match {value!r}: use all (tags and keywords) or any (either)")
    return word


def week_start(day: date, weekday: str) -> date:
    """The latest `weekday` on or before `day`."""
    return day - timedelta(days=(day.weekday() - WEEKDAYS.index(weekday)) % 7)


def next_weekly(
    day: date, weekday: str, last_sent: str | None, subscribed: str | None
) -> date | None:
    """None when a weekly subscriber is due on `day`, else the day they next are.

    `last_sent` is the digest day of their last email (YYYY-MM-DD), if any;
    `subscribed` the digest day on which the subscription began: a reader who subscribes on a
    Wednesday for Mondays hears first on Monday, not on the day they subscribe.
    """
    start = week_start(day, weekday)
    if last_sent is not None:
        reference = date.fromisoformat(last_sent[:10])
        return None if reference < start else start + WEEK
    if subscribed is None or date.fromisoformat(subscribed[:10]) <= start:
        return None
    return start + WEEK


def describe(frequency: str, weekday: str | None) -> str:
    """ "daily" or "weekly on Monday", for `subscribers` and `status`."""
    if frequency == "weekly" and weekday:
        return f"weekly on {DAY_NAMES[WEEKDAYS.index(weekday)]}"
    return frequency

"""The settings turned into the plain values the store takes, and back into words.

The store knows no settings: it is given the readers the config lists
(already checked by digest.subscriptions) and the limits every selection
obeys, and returns what it did as small records. This module does the
translating both ways, so the CLI, the daily run, the send and `digest
status` all read the settings the same way.
"""

from __future__ import annotations

from sqlite_utils import Database

from digest.cadence import describe
from digest.config import Settings
from digest.dates import zone
from digest.identity import normalize_email
from digest.models import Subscriber
from digest.store.due import Limits, Selection
from digest.store.subscribers import Change, sync_subscribers
from digest.subscriptions import check_config_subscribers


def limits(settings: Settings) -> Limits:
    """[digest] max_age_days and max_papers, and the digest day's time zone."""
    return Limits(
        max_age_days=settings.digest.max_age_days,
        max_papers=settings.digest.max_papers,
        tz=zone(settings.schedule.timezone),
    )


def nothing_due(selection: Selection, sub: Subscriber) -> str:
    """Why nothing is due to `sub`, in words (empty when something is)."""
    if selection.waits_until:
        so_far = f" ({selection.matching} papers so far)" if selection.matching else ""
        cadence = describe(sub.frequency, sub.weekday)
        return f"{cadence}: next email on {selection.waits_until}{so_far}"
    if selection.matching:
        return ""
    if selection.new:
        return f"all {selection.new} new papers filtered out by tags/keywords"
    if selection.unsummarised:
        return f"no new papers yet ({selection.unsummarised} wait for a summary)"
    return "no new papers"


def sync_config_subscribers(db: Database, settings: Settings) -> list[str]:
    """Create or update the [[subscribers]] of the config file; returns what
    changed, in words. A ConfigError names the entry that is wrong."""
    where = settings.config_path or "config"
    wanted = check_config_subscribers(settings)
    likes = {normalize_email(e["email"]): list(e.get("like", [])) for e in settings.subscribers}
    return [_words(change, str(where)) for change in sync_subscribers(db, wanted, likes)]


def _words(change: Change, where: str) -> str:
    if change.what == "liked":
        return f"{change.email} likes {change.detail!r} (from {where})"
    if change.what == "unknown-like":
        return (
            f"{change.email}: like {change.detail!r} from {where} is not a stored paper yet"
            " (it counts once the paper is ingested)"
        )
    return f"{change.what} {change.email} from {where}"

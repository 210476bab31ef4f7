"""Everything `digest status` reports, gathered from the store in one place."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.store.summaries import counts


def collect(db: Database, settings: Settings) -> dict[str, Any]:
    """A JSON-able status report; `text` holds the human-readable lines by section."""
    c = counts(db)
    text = {
        "database": [f"{settings.db}"],
        "papers": [
            f"{c['papers']} papers from {c['sources']} sources ({c['sightings']} sightings)",
            f"{c['summarised']} summarised, {c['unsummarised']} waiting"
            + (f", {c['fallbacks']} offline fallbacks" if c["fallbacks"] else ""),
        ],
    }
    return {"counts": c, "text": text}

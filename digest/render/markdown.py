"""On-demand digests: pick the papers, make sure they are summarised, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest.backends import Backend
from digest.config import Settings
from digest.render import render
from digest.render.view import banner, paper_view, writers
from digest.store.papers import latest_arrival_day
from digest.store.summaries import count_since, listing
from digest.summarize import pending_papers, summarize_as_run

FORMATS = {"md": "digest.md.j2"}


@dataclass
class Digest:
    text: str
    papers: list[dict[str, Any]]
    since: str | None
    more: int = 0  # papers of the period left out by the limit


def build_digest(
    db: Database,
    settings: Settings,
    backend: Backend | None,
    *,
    since: str | None = None,
    limit: int | None = None,
    fmt: str = "md",
    today: str | None = None,
) -> Digest:
    """Render the papers first seen since `since` (default: the day the newest
    papers arrived), best rank first, at most `limit` of them (the digest then
    says how many more there were), summarising any that have no summary yet.

    Only the papers shown are read: a day of 40,000 papers costs no more
    memory than a day of `limit`.
    """
    since = since or latest_arrival_day(db)
    papers = listing(db, since=since, limit=limit) if since else []
    more = count_since(db, since) - len(papers) if since and limit is not None else 0
    missing = [p["id"] for p in papers if p["tldr"] is None]
    if missing and backend is not None:
        todo = pending_papers(db, backend, paper_ids=missing)
        summarize_as_run(db, backend, todo, "build")
        papers = listing(db, since=since, limit=limit)
    hf_url = settings.digest.hf_url
    views = [paper_view(p, n, hf_url) for n, p in enumerate(papers, 1)]
    summarised = [v for v in views if v.writer is not None]
    text = render(
        FORMATS[fmt],
        settings.digest.templates_dir,
        title=settings.digest.title,
        date=today or datetime.now(UTC).date().isoformat(),
        views=views,
        # The rows themselves, for a template of one's own written before `views`.
        papers=papers,
        writers=writers(summarised),
        banner=banner(summarised),
        more=max(more, 0),
        since=since,
    )
    return Digest(text=text, papers=papers, since=since, more=max(more, 0))

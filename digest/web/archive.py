"""The archive's pages as (template, context): the latest digest, each past
day, the list of days, a tag's papers, one paper, search results.

Both the live application and `digest site` render these, so the static site
is the same pages minus the forms. Paper text goes through the email's read
model (`view.PaperView`), so a paper reads the same in the inbox and here.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.render.view import PaperView, paper_view
from digest.store import archive

PER_PAGE = 25  # papers on a day, tag or search page (the email's default cap)
DAYS_PER_PAGE = 30
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Page = tuple[str, dict[str, Any]]


class NotFound(Exception):
    """No such day, tag, paper or page."""


def views(
    papers: list[dict[str, Any]], settings: Settings, root: str, first: int = 1
) -> list[PaperView]:
    """The readers' view of archive rows, each with its page under `root`."""
    hf_url = settings.digest.hf_url
    return [
        replace(paper_view(p, n, hf_url), page=f"{root}/paper/{p['id']}")
        for n, p in enumerate(papers, first)
    ]


def day_page(db: Database, settings: Settings, root: str, day: str | None, page: int = 1) -> Page:
    """A page of a digest day (None: the latest), its best-ranked papers first."""
    if day is None:
        latest = archive.digest_days(db, 1)
        if not latest:
            return "day", {"day": None, "papers": [], "before": None, "after": None, **_side(db)}
        day = latest[0][0]
    elif not _DAY.match(day) or not _is_date(day):
        raise NotFound(day)
    if page < 1:
        raise NotFound(page)
    papers, total = archive.day_papers(db, day, PER_PAGE, (page - 1) * PER_PAGE)
    if not papers:
        raise NotFound(day)
    before, after = archive.neighbours(db, day)
    return "day", {
        "day": day,
        "day_long": _long(day),
        "papers": views(papers, settings, root, first=(page - 1) * PER_PAGE + 1),
        "total": total,
        "page": page,
        "pages": -(-total // PER_PAGE),
        "base": f"/digest/{day}",
        "before": before,
        "after": after,
        **_side(db),
    }


def days_page(db: Database, page: int) -> Page:
    total = archive.count_days(db)
    pages = max(1, -(-total // DAYS_PER_PAGE))
    if not 1 <= page <= pages:
        raise NotFound(page)
    days = archive.digest_days(db, DAYS_PER_PAGE, (page - 1) * DAYS_PER_PAGE)
    return "days", {
        "days": [(d, _long(d), n) for d, n in days],
        "page": page,
        "pages": pages,
        "base": "/digests",
    }


def tag_page(db: Database, settings: Settings, root: str, tag: str, page: int) -> Page:
    if tag not in settings.tags or page < 1:
        raise NotFound(tag)
    papers, total = archive.tag_papers(db, tag, PER_PAGE, (page - 1) * PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        raise NotFound(page)
    return "papers", {
        "heading": f"Papers tagged {tag}",
        "intro": settings.tags[tag],
        "tag": tag,
        "total": total,
        "papers": views(papers, settings, root),
        "page": page,
        "pages": pages,
        "base": f"/tag/{tag}",
        "query": None,
    }


def search_page(db: Database, settings: Settings, root: str, query: str, page: int) -> Page:
    query = " ".join(query.split())[:200]
    papers, total = (
        archive.search_papers(db, query, PER_PAGE, (page - 1) * PER_PAGE) if query else ([], 0)
    )
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        raise NotFound(page)
    return "papers", {
        "heading": f"Search: {query}" if query else "Search",
        "intro": None,
        "tag": None,
        "total": total,
        "papers": views(papers, settings, root),
        "page": page,
        "pages": pages,
        "base": "/search",
        "query": query,
    }


def paper_page(db: Database, settings: Settings, root: str, paper_id: int) -> Page:
    row = archive.paper(db, paper_id)
    if row is None:
        raise NotFound(paper_id)
    view = views([row], settings, root)[0]
    return "paper", {
        "p": view,
        "abstract": view.abstract,
        "first_seen": _long(view.day),
        "last_seen": _long(str(row["last_seen"] or row["first_seen"])[:10]),
        "sightings": row["sightings"],
        "day": view.day,
    }


def _side(db: Database) -> dict[str, Any]:
    return {
        "recent_days": [(d, _long(d), n) for d, n in archive.digest_days(db, 7)],
        "tag_counts": sorted(archive.tag_counts(db).items()),
    }


def _is_date(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _long(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d:%A}, {d.day} {d:%B %Y}"

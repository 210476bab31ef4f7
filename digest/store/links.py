"""Dump papers gaining their arXiv id: which to look up, and what a match adds.

Dumps carry titles only. `digest.sources.resolve` searches Hugging Face and
arXiv by title; a result is the same paper only when its title has the same
identity key (digest.identity.title_key), the rule every source follows.
A match adds what a live source would have added (the same COALESCE rules
as a repeat sighting, see store.papers): the arXiv id (unless another paper
row holds it), the Hugging Face page, authors, code and project links. It
adds no sighting: a search result is not a trending listing.

Every lookup is remembered in `link_lookups`, so a paper nobody has on
arXiv is not searched for again for MISS_DAYS days.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from digest.identity import arxiv_key
from digest.models import Paper
from digest.store import utcnow

MISS_DAYS = 30  # a paper not found is searched for again after this many days
_ARXIV_ABS = "https://arxiv.org/abs/"


def papers_to_resolve(db: Database, limit: int, now: datetime | None = None) -> list[Paper]:
    """Papers without an arXiv id, newest and best-ranked first, not missed lately."""
    now = now or datetime.now(UTC)
    retry = (now - timedelta(days=MISS_DAYS)).replace(microsecond=0).isoformat()
    rows = db.query(
        "SELECT p.id, p.key, p.title FROM papers p"
        " LEFT JOIN link_lookups l ON l.paper_id = p.id"
        " WHERE p.arxiv_id IS NULL AND (l.checked_at IS NULL OR l.checked_at < ?)"
        " ORDER BY p.first_seen DESC, p.best_rank, p.id LIMIT ?",
        [retry, limit],
    )
    return [Paper(id=r["id"], title=r["title"], abstract="") for r in rows]


def record_miss(db: Database, paper_id: int, detail: str, now: str | None = None) -> None:
    """No source knows this title (by the identity rule): do not ask again soon."""
    _remember(db, paper_id, None, detail, now)


def record_match(db: Database, paper_id: int, found: Paper, now: str | None = None) -> bool:
    """Give a stored paper what a matching search result knows; False when its arXiv
    id already belongs to another paper row (the rows stay apart, as in ingest)."""
    if not found.arxiv_id:
        return False
    ident = arxiv_key(found.arxiv_id)
    page = found.url if found.url and not found.url.startswith(_ARXIV_ABS) else None
    fallback = found.url if found.url and found.url.startswith(_ARXIV_ABS) else None
    with db.atomic():  # BEGIN IMMEDIATE (digest.store.Store)
        db.execute(
            "UPDATE papers SET arxiv_id = COALESCE(arxiv_id,"
            " (SELECT ? WHERE NOT EXISTS (SELECT 1 FROM papers WHERE arxiv_id = ?))),"
            " url = COALESCE(?, url, ?), authors = COALESCE(authors, ?),"
            " published = COALESCE(published, ?), github_repo = COALESCE(github_repo, ?),"
            " project_page = COALESCE(project_page, ?) WHERE id = ?",
            [
                ident,
                ident,
                page,
                fallback,
                json.dumps(list(found.authors)) if found.authors else None,
                found.published,
                found.github_repo,
                found.project_page,
                paper_id,
            ],
        )
        row = db.execute("SELECT arxiv_id FROM papers WHERE id = ?", [paper_id]).fetchone()
        took = row is not None and row[0] == ident
        _remember(
            db,
            paper_id,
            ident if took else None,
            "found" if took else f"arXiv {ident} is held by another paper",
            now,
        )
    return took


def lookup_counts(db: Database) -> dict[str, int]:
    """How many dump papers were matched and missed, for `digest status`."""
    row = db.execute("SELECT COUNT(found), COUNT(*) - COUNT(found) FROM link_lookups").fetchone()
    return {"found": row[0], "missed": row[1]}


def _remember(
    db: Database, paper_id: int, found: str | None, detail: str, now: str | None = None
) -> None:
    db.execute(
        "INSERT INTO link_lookups (paper_id, checked_at, found, detail) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (paper_id) DO UPDATE SET checked_at = excluded.checked_at,"
        " found = excluded.found, detail = excluded.detail",
        [paper_id, now or utcnow(), found, detail[:300]],
    )

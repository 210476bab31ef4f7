"""Queries behind the archive pages and feeds: digest days, a day's papers,
a tag's papers, full-text search, one paper's sightings.

Only summarised papers are listed (what readers see is the summary). A digest
day is the UTC date a paper was first seen, as in the Markdown digest.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from digest.store.summaries import SHOWN_TAGS, fts_query, listing

_SUMMARISED = "EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)"


def version(db: Database) -> tuple[Any, ...]:
    """Changes when a paper, sighting (ranks) or summary is added. Only rowid
    MAX lookups, constant time however large the archive, so pages can be cached
    until it moves (edits in place are caught by the cache's time limit)."""
    return tuple(
        db.execute(
            "SELECT (SELECT MAX(id) FROM papers), (SELECT MAX(id) FROM sightings),"
            " (SELECT MAX(id) FROM summaries)"
        ).fetchone()
    )


def digest_days(db: Database, limit: int, offset: int = 0) -> list[tuple[str, int]]:
    """(day, papers) of days with summarised papers, newest first."""
    rows = db.execute(
        f"SELECT substr(p.first_seen, 1, 10) AS day, COUNT(*) FROM papers p WHERE {_SUMMARISED}"
        " GROUP BY day ORDER BY day DESC LIMIT ? OFFSET ?",
        [limit, offset],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def count_days(db: Database) -> int:
    return db.execute(
        f"SELECT COUNT(DISTINCT substr(p.first_seen, 1, 10)) FROM papers p WHERE {_SUMMARISED}"
    ).fetchone()[0]


def neighbours(db: Database, day: str) -> tuple[str | None, str | None]:
    """The digest days just before and after `day`."""
    before = db.execute(
        f"SELECT MAX(substr(p.first_seen, 1, 10)) FROM papers p WHERE p.first_seen < ?"
        f" AND {_SUMMARISED}",
        [day],
    ).fetchone()[0]
    after = db.execute(
        f"SELECT MIN(substr(p.first_seen, 1, 10)) FROM papers p WHERE p.first_seen >= ?"
        f" AND {_SUMMARISED}",
        [_next(day)],
    ).fetchone()[0]
    return before, after


def day_papers(
    db: Database, day: str, limit: int | None = None, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """A page of the summarised papers first seen on `day`, best rank first, and the total."""
    where = f"p.first_seen >= ? AND p.first_seen < ? AND {_SUMMARISED}"
    params = [day, _next(day)]
    total = db.execute(f"SELECT COUNT(*) FROM papers p WHERE {where}", params).fetchone()[0]
    ids = [
        r[0]
        for r in db.execute(
            f"SELECT p.id FROM papers p WHERE {where}"
            " ORDER BY p.best_rank, p.first_seen, p.id LIMIT ? OFFSET ?",
            [*params, -1 if limit is None else limit, offset],
        ).fetchall()
    ]
    return _in_order(db, ids), total


def tag_papers(db: Database, tag: str, limit: int, offset: int = 0) -> tuple[list[dict], int]:
    """A page of the papers whose latest summary has `tag`, newest first, and the total."""
    where = f"{_SUMMARISED} AND EXISTS (SELECT 1 FROM json_each({SHOWN_TAGS}) WHERE value = ?)"
    total = db.execute(f"SELECT COUNT(*) FROM papers p WHERE {where}", [tag]).fetchone()[0]
    ids = [
        r[0]
        for r in db.execute(
            f"SELECT p.id FROM papers p WHERE {where}"
            " ORDER BY p.first_seen DESC, p.best_rank, p.id LIMIT ? OFFSET ?",
            [tag, limit, offset],
        ).fetchall()
    ]
    return _in_order(db, ids), total


def search_papers(db: Database, text: str, limit: int, offset: int = 0) -> tuple[list[dict], int]:
    """A page of full-text matches in titles and abstracts, best match first, and the total."""
    match = fts_query(text)
    base = (
        f"FROM papers_fts f JOIN papers p ON p.id = f.rowid WHERE papers_fts MATCH ?"
        f" AND {_SUMMARISED}"
    )
    total = db.execute(f"SELECT COUNT(*) {base}", [match]).fetchone()[0]
    ids = [
        r[0]
        for r in db.execute(
            f"SELECT p.id {base} ORDER BY bm25(papers_fts), p.id LIMIT ? OFFSET ?",
            [match, limit, offset],
        ).fetchall()
    ]
    return _in_order(db, ids), total


def paper(db: Database, paper_id: int) -> dict[str, Any] | None:
    """One summarised paper with how often it trended."""
    rows = listing(db, paper_ids=[paper_id])
    if not rows or rows[0]["tldr"] is None:
        return None
    row = rows[0]
    row["sightings"] = db.execute(
        "SELECT COUNT(*) FROM sightings WHERE paper_id = ?", [paper_id]
    ).fetchone()[0]
    return row


def recent_papers(db: Database, limit: int) -> list[dict[str, Any]]:
    ids = [
        r[0]
        for r in db.execute(
            f"SELECT p.id FROM papers p WHERE {_SUMMARISED}"
            " ORDER BY p.first_seen DESC, p.best_rank LIMIT ?",
            [limit],
        ).fetchall()
    ]
    return _in_order(db, ids)


def tag_counts(db: Database) -> dict[str, int]:
    rows = db.execute(
        f"SELECT j.value, COUNT(*) FROM papers p, json_each({SHOWN_TAGS}) j WHERE {_SUMMARISED}"
        " GROUP BY j.value"
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _in_order(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = {r["id"]: r for r in listing(db, paper_ids=ids)}
    return [rows[i] for i in ids if i in rows]


def _next(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()

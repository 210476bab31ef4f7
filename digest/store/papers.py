"""Papers, their sightings and the sources they came from.

`record_entries` is the one place that decides whether an entry is a new
paper or a new sighting of a known one (see digest.identity for the rule).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from typing import Any

from sqlite_utils import Database

from digest.identity import arxiv_key, title_key
from digest.models import Entry, IngestReport, Paper
from digest.store import inserted_id, utcnow

_BATCH = 500
_ARXIV_ABS = "https://arxiv.org/abs/"


def source_by_hash(db: Database, content_hash: str) -> dict[str, Any] | None:
    """The source already ingested with exactly this content, if any."""
    rows = list(db.table("sources").rows_where("content_hash = ?", [content_hash], limit=1))
    return rows[0] if rows else None


def last_source(db: Database, kind: str) -> dict[str, Any] | None:
    """The most recently ingested source of this kind (dump, hf, arxiv), if any."""
    rows = list(db.query("SELECT * FROM sources WHERE kind = ? ORDER BY id DESC LIMIT 1", [kind]))
    return rows[0] if rows else None


def record_entries(
    db: Database,
    entries: Iterable[Entry],
    *,
    kind: str,
    location: str,
    content_hash: str | None,
    report: IngestReport,
    now: str | None = None,
) -> IngestReport:
    """Store every entry of one source in one transaction.

    `entries` may be a lazy parser: if it raises, the transaction is rolled
    back and the source leaves nothing behind. Entries are handled in batches
    so memory stays flat however long the source is.
    """
    now = now or utcnow()
    with db.atomic():
        source_id = inserted_id(
            db.table("sources").insert(
                {
                    "kind": kind,
                    "location": location,
                    "content_hash": content_hash,
                    "ingested_at": now,
                    "entries": 0,
                    "new": 0,
                    "known": 0,
                }
            )
        )
        iterator = iter(entries)
        while batch := list(islice(iterator, _BATCH)):
            _record_batch(db, batch, source_id, now, report)
        db.table("sources").update(
            source_id, {"entries": report.entries, "new": report.new, "known": report.known}
        )
    return report


def _record_batch(
    db: Database, batch: list[Entry], source_id: int, now: str, report: IngestReport
) -> None:
    keys = [title_key(e.paper.title) for e in batch]
    ids = _known(db, keys)
    for entry, key in zip(batch, keys, strict=True):
        if key not in ids and entry.paper.arxiv_id:
            found = _by_arxiv(db, entry.paper.arxiv_id)
            if found is not None:
                ids[key] = found
    fresh: dict[str, Entry] = {}
    for entry, key in zip(batch, keys, strict=True):
        if ids.get(key) is None and key not in fresh:
            fresh[key] = entry
    db.conn.executemany(
        "INSERT INTO papers (key, arxiv_id, title, abstract, url, authors, upvotes, published,"
        " first_seen, last_seen, best_rank, github_repo, project_page, ai_keywords,"
        " num_comments, thumbnail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [_paper_row(key, e, now) for key, e in fresh.items()],
    )
    if fresh:
        ids.update(_known(db, list(fresh)))
    sightings, merges, seen = [], [], []
    new = 0
    for entry, key in zip(batch, keys, strict=True):
        paper_id = ids[key]
        if fresh.get(key) is entry:
            new += 1
        elif _only_seen(entry.paper):
            seen.append((now, entry.rank, entry.rank, paper_id))
        else:
            merges.append(_merge_params(paper_id, entry, now))
        # A paper stored before this batch: does its abstract differ from this one?
        compare = int(key not in fresh)
        sightings.append(
            (source_id, entry.rank, entry.listed, now, compare, entry.paper.abstract, paper_id)
        )
    report.entries += len(batch)
    report.new += new
    report.known += len(batch) - new
    db.conn.executemany(_MERGE, merges)
    db.conn.executemany(_SEEN, seen)
    db.conn.executemany(_SIGHTING, sightings)


def _paper_row(key: str, entry: Entry, now: str) -> tuple[Any, ...]:
    p = entry.paper
    return (
        key,
        arxiv_key(p.arxiv_id) if p.arxiv_id else None,
        p.title,
        p.abstract,
        p.url,
        json.dumps(list(p.authors)) if p.authors else None,
        p.upvotes,
        p.published,
        now,
        now,
        entry.rank,
        *_extras(p),
    )


def _extras(p: Paper) -> list[Any]:
    """What only some sources know (Hugging Face); None where a source doesn't."""
    return [
        p.github_repo,
        p.project_page,
        json.dumps(list(p.ai_keywords)) if p.ai_keywords else None,
        p.num_comments,
        p.thumbnail,
    ]


_MERGE = (
    "UPDATE papers SET last_seen = ?, best_rank = MIN(COALESCE(best_rank, ?), ?),"
    " arxiv_id = COALESCE(arxiv_id,"
    " (SELECT ? WHERE NOT EXISTS (SELECT 1 FROM papers WHERE arxiv_id = ?))),"
    " url = COALESCE(?, url, ?),"
    " authors = COALESCE(?, authors), upvotes = COALESCE(?, upvotes),"
    " published = COALESCE(published, ?), github_repo = COALESCE(?, github_repo),"
    " project_page = COALESCE(?, project_page), ai_keywords = COALESCE(?, ai_keywords),"
    " num_comments = COALESCE(?, num_comments), thumbnail = COALESCE(?, thumbnail)"
    " WHERE id = ?"
)


# The stored abstract is compared in SQLite, on the row the UPDATE just read: no
# abstract is carried into Python. A paper first stored in this same batch is
# never "different" (its later entries are sightings of the first).
_SIGHTING = (
    "INSERT INTO sightings (paper_id, source_id, rank, listed, seen_at, abstract_differs)"
    " SELECT id, ?, ?, ?, ?, CASE WHEN ? THEN abstract IS NOT ? ELSE 0 END FROM papers"
    " WHERE id = ?"
)


# A known paper seen again by a source that says nothing else about it (a dump:
# title, abstract, rank): what _MERGE does with all its other values None.
_SEEN = "UPDATE papers SET last_seen = ?, best_rank = MIN(COALESCE(best_rank, ?), ?) WHERE id = ?"


def _only_seen(p: Paper) -> bool:
    return not (
        p.arxiv_id
        or p.url
        or p.authors
        or p.upvotes is not None
        or p.published
        or p.github_repo
        or p.project_page
        or p.ai_keywords
        or p.num_comments is not None
        or p.thumbnail
    )


def _merge_params(paper_id: int, entry: Entry, now: str) -> list[Any]:
    """A known paper seen again: keep its text, gain what the new source knows.

    It gains an arXiv id only if no other paper holds it (a title matched
    here while the id was first stored under another title: the two rows
    stay apart rather than break the unique id). An arXiv abstract link
    never replaces another link (the Hugging Face page): it follows from
    the id anyway.
    """
    p = entry.paper
    ident = arxiv_key(p.arxiv_id) if p.arxiv_id else None
    fallback_url = p.url if p.url and p.url.startswith(_ARXIV_ABS) else None
    return [
        now,
        entry.rank,
        entry.rank,
        ident,
        ident,
        None if fallback_url else p.url,
        fallback_url,
        json.dumps(list(p.authors)) if p.authors else None,
        p.upvotes,
        p.published,
        *_extras(p),
        paper_id,
    ]


def _known(db: Database, keys: list[str]) -> dict[str, int]:
    """The ids of the stored papers with these keys, in one query per batch
    (answered from the key index alone)."""
    unique = list(dict.fromkeys(keys))
    marks = ",".join("?" * len(unique))
    return dict(db.execute(f"SELECT key, id FROM papers WHERE key IN ({marks})", unique))


def _by_arxiv(db: Database, arxiv_id: str) -> int | None:
    """The id of the stored paper with this arXiv id."""
    row = db.execute("SELECT id FROM papers WHERE arxiv_id = ?", [arxiv_key(arxiv_id)]).fetchone()
    return row[0] if row else None


def to_paper(row: dict[str, Any]) -> Paper:
    """A stored papers row (or a joined row holding its columns) as a Paper."""
    return Paper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        arxiv_id=row.get("arxiv_id"),
        url=row.get("url"),
        authors=tuple(json.loads(row["authors"] or "[]")),
        upvotes=row.get("upvotes"),
        published=row.get("published"),
    )


def get_papers(db: Database, ids: Iterable[int]) -> list[Paper]:
    """Stored papers by id, in the order asked; unknown ids are left out."""
    wanted = list(ids)
    if not wanted:
        return []
    marks = ",".join("?" * len(wanted))
    rows = {r["id"]: r for r in db.query(f"SELECT * FROM papers WHERE id IN ({marks})", wanted)}
    return [to_paper(rows[i]) for i in wanted if i in rows]


def latest_arrival_day(db: Database) -> str | None:
    """The UTC day (YYYY-MM-DD) on which the newest papers were first seen."""
    row = db.execute("SELECT MAX(first_seen) FROM papers").fetchone()
    return row[0][:10] if row and row[0] else None

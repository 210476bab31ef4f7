"""Summaries and the listing queries that join papers with their latest summary."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from sqlite_utils import Database

from digest.models import Paper, Summary
from digest.store import utcnow
from digest.store.papers import get_papers, to_paper

# Papers read from the store at a time when summarising everything pending: a
# run's memory stays flat however many papers are waiting.
PAGE = 500

# The summary shown for a paper: a model's (not a fallback) before an offline one, so an
# offline pass never hides a paid model summary; within each kind, the most recent.
_SHOWN_ORDER = (
    "ORDER BY (s.backend = 'offline' OR s.fallback_from IS NOT NULL), s.created DESC, s.id DESC"
)
_LATEST = f"SELECT s.* FROM summaries s WHERE s.paper_id = p.id {_SHOWN_ORDER} LIMIT 1"
# The tags of the summary shown for paper `p` (used by subscriber filters: one rule).
SHOWN_TAGS = f"(SELECT s.tags FROM summaries s WHERE s.paper_id = p.id {_SHOWN_ORDER} LIMIT 1)"


def save_summary(db: Database, paper_id: int, summary: Summary, now: str | None = None) -> None:
    """Store (or, on --force, replace) a paper's summary for this backend/model/prompt."""
    _upsert(db, paper_id, summary, now or utcnow())


def _upsert(db: Database, paper_id: int, s: Summary, now: str) -> None:
    db.execute(
        "INSERT INTO summaries (paper_id, backend, model, prompt_version, tldr, summary, tags,"
        " created, error, fallback_from) VALUES (?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (paper_id, backend, model, prompt_version) DO UPDATE SET"
        " tldr = excluded.tldr, summary = excluded.summary, tags = excluded.tags,"
        " created = excluded.created, error = excluded.error,"
        " fallback_from = excluded.fallback_from",
        [
            paper_id,
            s.backend,
            s.model,
            s.prompt_version,
            s.tldr,
            s.summary,
            json.dumps(list(s.tags)),
            now,
            s.error,
            s.fallback_from,
        ],
    )


def unsummarised(
    db: Database,
    *,
    model: str = "",
    prompt_version: str = "",
    paper_ids: Iterable[int] | None = None,
    force: bool = False,
    limit: int | None = None,
    offline: bool = False,
) -> list[Paper]:
    """Papers that have no summary from this model and prompt version yet.

    A fallback summary (written offline because the model failed) does not
    count as done for the model: the next run tries the model again. For the
    offline backend (`offline=True`) any summary counts as done: it never
    redoes, let alone hides, what a model wrote.
    """
    where, params = _unsummarised_where(model, prompt_version, paper_ids, force, offline)
    sql = f"SELECT p.* FROM papers p WHERE {where} ORDER BY p.best_rank, p.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [to_paper(r) for r in db.query(sql, params)]


def unsummarised_ids(
    db: Database,
    *,
    model: str = "",
    prompt_version: str = "",
    force: bool = False,
    limit: int | None = None,
    offline: bool = False,
) -> list[int]:
    """The ids of `unsummarised` papers, in the same (rank) order: what a run over
    every stored paper holds in memory, instead of their texts."""
    where, params = _unsummarised_where(model, prompt_version, None, force, offline)
    sql = f"SELECT p.id FROM papers p WHERE {where} ORDER BY p.best_rank, p.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [r[0] for r in db.execute(sql, params)]


class PagedPapers(Collection[Paper]):
    """Stored papers in the order of `ids`, read PAGE at a time as they are used.

    A run over 40,000 papers holds their ids, never all their texts. Sized and
    iterable, like the list the backends otherwise get.
    """

    def __init__(self, db: Database, ids: list[int]) -> None:
        self.db, self.ids = db, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, paper: object) -> bool:
        return isinstance(paper, Paper) and paper.id in self.ids

    def __iter__(self) -> Iterator[Paper]:
        for start in range(0, len(self.ids), PAGE):
            yield from get_papers(self.db, self.ids[start : start + PAGE])


def _unsummarised_where(
    model: str,
    prompt_version: str,
    paper_ids: Iterable[int] | None,
    force: bool,
    offline: bool,
) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1"]
    params: list[Any] = []
    if offline and not force:
        clauses.append("NOT EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)")
    elif not force:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id"
            " AND s.model = ? AND s.prompt_version = ? AND s.fallback_from IS NULL)"
        )
        params += [model, prompt_version]
    if paper_ids is not None:
        ids = list(paper_ids)
        clauses.append(f"p.id IN ({','.join('?' * len(ids))})")
        params += ids
    return " AND ".join(clauses), params


def count_since(db: Database, since: str) -> int:
    """How many papers were first seen on or after `since`."""
    return db.execute("SELECT COUNT(*) FROM papers WHERE first_seen >= ?", [since]).fetchone()[0]


def listing(
    db: Database,
    *,
    tag: str | None = None,
    search: str | None = None,
    since: str | None = None,
    paper_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Papers with their latest summary, best rank first, as plain dicts."""
    clauses: list[str] = ["1"]
    params: list[Any] = []
    if since:
        clauses.append("p.first_seen >= ?")
        params.append(since)
    if search:
        clauses.append("p.id IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)")
        params.append(fts_query(search))
    if paper_ids is not None:
        ids = list(paper_ids)
        clauses.append(f"p.id IN ({','.join('?' * len(ids))})")
        params += ids
    if tag:
        clauses.append("EXISTS (SELECT 1 FROM json_each(s.tags) WHERE json_each.value = ?)")
        params.append(tag)
    sql = (
        "SELECT p.*, s.backend, s.model, s.prompt_version, s.tldr, s.summary, s.tags,"
        " s.error AS summary_error, s.fallback_from, s.created AS summarised"
        f" FROM papers p LEFT JOIN summaries s ON s.id = ({_LATEST.replace('s.*', 's.id')})"
        f" WHERE {' AND '.join(clauses)} ORDER BY p.best_rank, p.first_seen, p.id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = []
    for row in db.query(sql, params):
        row["tags"] = json.loads(row["tags"]) if row["tags"] else []
        row["authors"] = json.loads(row["authors"]) if row["authors"] else []
        row["ai_keywords"] = json.loads(row["ai_keywords"]) if row.get("ai_keywords") else []
        row["arxiv_url"] = f"https://arxiv.org/abs/{row['arxiv_id']}" if row["arxiv_id"] else None
        rows.append(row)
    return rows


def fts_query(text: str) -> str:
    """Quote every word so user text is searched for, never parsed as FTS syntax."""
    words = [w.replace('"', "") for w in text.split()]
    return " ".join(f'"{w}"' for w in words if w) or '""'


def counts(db: Database) -> dict[str, int]:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "papers": one("SELECT COUNT(*) FROM papers"),
        "summarised": one("SELECT COUNT(DISTINCT paper_id) FROM summaries"),
        "unsummarised": one(
            "SELECT COUNT(*) FROM papers p WHERE NOT EXISTS"
            " (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)"
        ),
        "fallbacks": one("SELECT COUNT(*) FROM summaries WHERE fallback_from IS NOT NULL"),
        "sources": one("SELECT COUNT(*) FROM sources"),
        "sightings": one("SELECT COUNT(*) FROM sightings"),
    }

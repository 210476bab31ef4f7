"""Tags for stored papers or for a paper given on the command line."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from digest.backends import get_backend
from digest.config import Settings
from digest.errors import InputError
from digest.models import Paper
from digest.store.papers import get_papers
from digest.store.summaries import listing
from digest.summarize import pending_papers, summarize_as_run


def tag_given(settings: Settings, backend_name: str, title: str, abstract: str) -> dict[str, Any]:
    """Tag a paper that is not stored (nothing is written)."""
    backend = get_backend(backend_name, settings)
    summary = backend.summarize(Paper(title=title, abstract=abstract))
    return {
        "title": title,
        "tags": list(summary.tags),
        "tldr": summary.tldr,
        "backend": summary.backend,
        "model": summary.model,
    }


def tag_stored(
    db: Database, settings: Settings, backend_name: str, paper_ids: list[int]
) -> list[dict[str, Any]]:
    """Tags of stored papers, summarising (and storing) those this backend has not done."""
    found = {p.id for p in get_papers(db, paper_ids)}
    missing = [i for i in paper_ids if i not in found]
    if missing:
        raise InputError(
            f"no paper with id {', '.join(map(str, missing))}: list ids with `digest papers`"
        )
    backend = get_backend(backend_name, settings)
    todo = pending_papers(db, backend, paper_ids=paper_ids)
    summarize_as_run(db, backend, todo, "tag")
    rows = {r["id"]: r for r in listing(db, paper_ids=paper_ids)}
    return [
        {
            "id": i,
            "title": rows[i]["title"],
            "tags": rows[i]["tags"],
            "backend": rows[i]["backend"],
            "model": rows[i]["model"],
        }
        for i in paper_ids
    ]

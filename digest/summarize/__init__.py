"""Summarise stored papers with a backend and store the results as they come.

Backends only summarise (digest/backends); this package is the one writer of
summaries and of the model-call log (writer.py). Here the papers a backend has
not done are chosen, and the summarise lock is taken before any of them is sent,
so two commands never pay the model twice for one paper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from digest.backends import Backend, StopCheck, never
from digest.locks import hold
from digest.models import OFFLINE, Paper
from digest.store import db_file
from digest.store.summaries import PagedPapers, unsummarised, unsummarised_ids
from digest.summarize.report import SummarizeReport, collapse, outcome_line
from digest.summarize.writer import fall_back_offline, store_outcomes

__all__ = [
    "LOCK_WAIT_S",
    "SummarizeReport",
    "collapse",
    "fall_back_offline",
    "outcome_line",
    "pending_ids",
    "pending_papers",
    "summarize_as_run",
    "summarize_papers",
    "summarize_pending",
    "unsummarised_at_all",
    "unsummarised_at_all_paged",
]

# How long a second summariser waits for the first before giving up (a model
# run over a big backlog can take a while; the wait ends early on a stop).
LOCK_WAIT_S = 3600.0
log = logging.getLogger(__name__)


def pending_papers(
    db: Database,
    backend: Backend,
    *,
    paper_ids: list[int] | None = None,
    force: bool = False,
    limit: int | None = None,
) -> list[Paper]:
    """Papers this backend (model + prompt version) has not summarised yet."""
    return unsummarised(db, paper_ids=paper_ids, force=force, limit=limit, **_done_by(backend))


def _done_by(backend: Backend) -> dict[str, Any]:
    """What makes a stored summary this backend's own: its model and prompt
    version, or for the offline backend any summary at all."""
    return {
        "model": backend.model,
        "prompt_version": backend.prompt_version,
        "offline": backend.name == OFFLINE,
    }


def pending_ids(
    db: Database, backend: Backend, *, force: bool = False, limit: int | None = None
) -> list[int]:
    """The ids of `pending_papers`, best rank first."""
    return unsummarised_ids(db, force=force, limit=limit, **_done_by(backend))


def summarize_pending(
    db: Database,
    backend: Backend,
    progress: Callable[[SummarizeReport], None] | None = None,
    run_id: int | None = None,
    *,
    force: bool = False,
    limit: int | None = None,
    should_stop: StopCheck = never,
) -> SummarizeReport:
    """Summarise every paper this backend has not summarised yet (at most `limit`),
    best rank first, a page at a time, holding the summarise lock.

    The pending papers are chosen once the lock is held, so what another
    summariser did meanwhile is not done again. A stop request (`should_stop()`)
    ends the wait for the lock, or the batch at the next paper, keeping what is done.
    """

    def run() -> SummarizeReport:
        ids = pending_ids(db, backend, force=force, limit=limit)
        return store_outcomes(db, backend, PagedPapers(db, ids), progress, run_id, should_stop)

    where = db_file(db)
    if where is None:
        return run()
    with hold(where, "summarise", wait=LOCK_WAIT_S, should_stop=should_stop, waiting=log.warning):
        return run()


def unsummarised_at_all_paged(db: Database) -> PagedPapers:
    """Papers with no summary of any kind, read a page at a time."""
    return PagedPapers(db, unsummarised_ids(db, offline=True))


def unsummarised_at_all(db: Database) -> list[Paper]:
    """Papers with no summary of any kind (what a reader would see as not summarised)."""
    return unsummarised(db, offline=True)


def summarize_papers(
    db: Database,
    backend: Backend,
    papers: list[Paper],
    progress: Callable[[SummarizeReport], None] | None = None,
    run_id: int | None = None,
    *,
    force: bool = False,
    should_stop: StopCheck = never,
) -> SummarizeReport:
    """Summarise `papers`, holding the database's summarise lock.

    Two commands summarising at once (cron's run and an operator's
    `summarize`) would pay the model twice for the same papers: the second
    waits for the first, then drops the papers it summarised meanwhile.
    """
    where = db_file(db)
    if where is None:
        return store_outcomes(db, backend, papers, progress, run_id, should_stop)
    with hold(where, "summarise", wait=LOCK_WAIT_S, should_stop=should_stop, waiting=log.warning):
        if not force and papers:
            still = {p.id for p in pending_papers(db, backend, paper_ids=_ids(papers))}
            papers = [p for p in papers if p.id in still]
        return store_outcomes(db, backend, papers, progress, run_id, should_stop)


def summarize_as_run(db: Database, backend: Backend, papers: list[Paper], kind: str) -> None:
    """Summarise for a command that is not itself a summarising run (`digest build`,
    `digest tag`), recorded as a run of that `kind` so its model calls are attributed
    to it and `digest status` shows them."""
    from digest.store.runs import finish_run, start_run

    if not papers:
        return
    run_id = start_run(db, kind)
    try:
        report = summarize_papers(db, backend, papers, run_id=run_id)
    except BaseException as exc:
        failed = not isinstance(exc, KeyboardInterrupt)
        finish_run(
            db,
            run_id,
            "failed" if failed else "interrupted",
            errors=[str(exc)] if failed else None,
        )
        raise
    problems = ([report.stopped] if report.stopped else []) + collapse(report.errors)
    finish_run(
        db,
        run_id,
        "partial" if report.fell_back else "ok",
        errors=problems[:100],
        line=outcome_line(report),
        summarised=report.done,
        fell_back=report.fell_back,
    )


def _ids(papers: list[Paper]) -> list[int]:
    return [p.id for p in papers if p.id is not None]

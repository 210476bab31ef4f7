"""Summarise stored papers with a backend and store the results as they come."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlite_utils import Database

from digest.backends import Backend
from digest.locks import hold
from digest.models import OFFLINE, Paper
from digest.store import db_file
from digest.store.papers import get_papers
from digest.store.summaries import save_summary, unsummarised, unsummarised_ids

_COMMIT_EVERY = 100
# Papers read from the store at a time when summarising everything pending: a
# run's memory stays flat however many papers are waiting.
PAGE = 500
# How long a second summariser waits for the first before giving up (a model
# run over a big backlog can take a while; the wait ends early on a stop).
LOCK_WAIT_S = 3600.0
log = logging.getLogger(__name__)


@dataclass
class SummarizeReport:
    backend: str
    model: str
    total: int = 0
    done: int = 0
    fell_back: int = 0
    cached: int = 0
    errors: list[str] = field(default_factory=list)
    # Model use, filled by backends that call one (the openai batch driver).
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    stopped: str | None = None  # why the rest of the run used the offline backend


def collapse(errors: list[str]) -> list[str]:
    """Per-paper errors ("paper 12: reason") with one cause told once, with a count:
    ten papers failing the same way are one line, not ten."""
    papers: dict[str, list[str]] = {}
    other: list[str] = []
    for error in errors:
        head, _, reason = error.partition(": ")
        if head.startswith("paper ") and reason:
            papers.setdefault(reason, []).append(head.removeprefix("paper "))
        else:
            other.append(error)
    lines = []
    for reason, ids in papers.items():
        if len(ids) == 1:
            lines.append(f"paper {ids[0]}: {reason}")
        else:
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            lines.append(f"{len(ids)} papers: {reason} (papers {shown})")
    return other + lines


def outcome_line(report: SummarizeReport) -> str:
    """What `summarize` did, in one line: how many papers each backend wrote."""
    used = f"{report.backend} ({report.model})"
    if report.fell_back:
        line = (
            f"summarised {report.done} papers: {report.done - report.fell_back} with {used},"
            f" {report.fell_back} with the offline backend instead"
        )
    else:
        line = f"summarised {report.done} papers with {used}"
    if report.calls:
        line += (
            f"; {report.calls} calls, {report.input_tokens:,} input + "
            f"{report.output_tokens:,} output tokens, cost {report.cost:.4f}"
        )
    return line


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
    should_stop: Callable[[], bool] | None = None,
) -> SummarizeReport:
    """Summarise every paper this backend has not summarised yet (at most `limit`),
    best rank first, a page at a time, holding the summarise lock.

    The pending papers are chosen once the lock is held, so what another
    summariser did meanwhile is not done again.
    """

    def run() -> SummarizeReport:
        ids = pending_ids(db, backend, force=force, limit=limit)
        return _summarize(db, backend, PagedPapers(db, ids), progress, run_id)

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


def fall_back_offline(
    db: Database,
    settings_tags: dict[str, str],
    papers: Iterable[Paper],
    *,
    failed: str,
    reason: str,
) -> int:
    """Give `papers` offline summaries stored *as fallbacks* (with the reason), so a
    dead model server does not hold back the day's email; the next run retries them."""
    from dataclasses import replace

    from digest.backends.offline import OfflineBackend

    offline = OfflineBackend(settings_tags)
    done = 0
    for batch in _batches(papers, _COMMIT_EVERY):
        with db.atomic():
            for paper in batch:
                if paper.id is not None:
                    summary = offline.summarize(paper)
                    save_summary(db, paper.id, replace(summary, fallback_from=failed, error=reason))
                    done += 1
    return done


def summarize_papers(
    db: Database,
    backend: Backend,
    papers: list[Paper],
    progress: Callable[[SummarizeReport], None] | None = None,
    run_id: int | None = None,
    *,
    force: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> SummarizeReport:
    """Summarise `papers`, holding the database's summarise lock.

    Two commands summarising at once (cron's run and an operator's
    `summarize`) would pay the model twice for the same papers: the second
    waits for the first, then drops the papers it summarised meanwhile.
    """
    where = db_file(db)
    if where is None:
        return _summarize(db, backend, papers, progress, run_id)
    with hold(where, "summarise", wait=LOCK_WAIT_S, should_stop=should_stop, waiting=log.warning):
        if not force and papers:
            still = {p.id for p in pending_papers(db, backend, paper_ids=_ids(papers))}
            papers = [p for p in papers if p.id in still]
        return _summarize(db, backend, papers, progress, run_id)


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


def _batches(papers: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    items = iter(papers)
    while batch := list(islice(items, size)):
        yield batch


def _summarize(
    db: Database,
    backend: Backend,
    papers: Collection[Paper],
    progress: Callable[[SummarizeReport], None] | None,
    run_id: int | None,
) -> SummarizeReport:
    """Summarise `papers` one by one, committing in small batches.

    Backends with their own batch driver (the OpenAI one: concurrent, with
    per-call logging) provide `summarize_into(db, papers, report, progress, run_id)`;
    `run_id` ties their logged calls to the run that made them.
    """
    report = SummarizeReport(backend=backend.name, model=backend.model, total=len(papers))
    driver = getattr(backend, "summarize_into", None)
    if driver is not None:
        driver(db, papers, report, progress, run_id)
        return report
    for batch in _batches(papers, _COMMIT_EVERY):
        with db.atomic():
            for paper in batch:
                if paper.id is None:
                    raise ValueError("summarize_papers takes stored papers (with ids)")
                summary = backend.summarize(paper)
                save_summary(db, paper.id, summary)
                report.done += 1
                if summary.fallback_from:
                    report.fell_back += 1
        if progress:
            progress(report)
    return report

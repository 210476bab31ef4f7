"""Summarise stored papers with a backend and store the results as they come."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlite_utils import Database

from digest.backends import Backend
from digest.locks import hold
from digest.models import Paper
from digest.store import db_file
from digest.store.summaries import save_summary, unsummarised

_COMMIT_EVERY = 100
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
    return unsummarised(
        db,
        model=backend.model,
        prompt_version=backend.prompt_version,
        paper_ids=paper_ids,
        force=force,
        limit=limit,
        offline=backend.name == "offline",
    )


def unsummarised_at_all(db: Database) -> list[Paper]:
    """Papers with no summary of any kind (what a reader would see as not summarised)."""
    return unsummarised(db, offline=True)


def fall_back_offline(
    db: Database, settings_tags: dict[str, str], papers: list[Paper], *, failed: str, reason: str
) -> int:
    """Give `papers` offline summaries stored *as fallbacks* (with the reason), so a
    dead model server does not hold back the day's email; the next run retries them."""
    from dataclasses import replace

    from digest.backends.offline import OfflineBackend

    offline = OfflineBackend(settings_tags)
    with db.atomic():
        for paper in papers:
            if paper.id is not None:
                summary = offline.summarize(paper)
                save_summary(db, paper.id, replace(summary, fallback_from=failed, error=reason))
    return len(papers)


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


def _ids(papers: list[Paper]) -> list[int]:
    return [p.id for p in papers if p.id is not None]


def _summarize(
    db: Database,
    backend: Backend,
    papers: list[Paper],
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
    for start in range(0, len(papers), _COMMIT_EVERY):
        with db.atomic():
            for paper in papers[start : start + _COMMIT_EVERY]:
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

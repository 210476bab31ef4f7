"""The one writer of summaries and of the model-call log.

A backend only yields outcomes (digest/backends); each one is stored here as it
comes: a paid outcome (with model calls) committed at once with its calls, so an
interrupted run loses nothing it paid for; free ones COMMIT_EVERY at a time. A
failure is stored as the offline backend's summary marked as a fallback with its
reason, never passed off as the model's: readers are told, and the next run asks
the model again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from itertools import islice

from sqlite_utils import Database

from digest.backends import SKIPPED, Backend, Outcome, StopCheck
from digest.backends.offline import OfflineBackend
from digest.errors import BackendError
from digest.models import Paper, Summary
from digest.store.llm_calls import save_outcome
from digest.store.summaries import save_summary
from digest.summarize.report import SummarizeReport

COMMIT_EVERY = 100  # free (offline) summaries written per transaction


def store_outcomes(
    db: Database,
    backend: Backend,
    papers: Collection[Paper],
    progress: Callable[[SummarizeReport], None] | None,
    run_id: int | None,
    should_stop: StopCheck,
) -> SummarizeReport:
    """Store each outcome of `backend.summarize_many(papers)` as it comes.

    A paid outcome (one with model calls) is committed at once with its calls,
    tied to `run_id`, so an interrupted run loses nothing it paid for; free ones
    are committed COMMIT_EVERY at a time. A setup problem ends the batch with
    BackendError, saying how many papers are saved.
    """
    writer = _Writer(db, backend, run_id, total=len(papers))
    outcomes = backend.summarize_many(papers, should_stop=should_stop)
    try:
        batch: list[Outcome] = []
        for outcome in outcomes:
            batch.append(outcome)
            if outcome.calls or len(batch) >= COMMIT_EVERY:
                writer.write(batch)
                batch = []
                if progress:
                    progress(writer.report)
                if should_stop():
                    break
        if batch:
            writer.write(batch)
            if progress:
                progress(writer.report)
    except BackendError as exc:
        if writer.report.done:
            raise BackendError(
                f"{exc} ({writer.report.done} papers done before it are saved)"
            ) from None
        raise
    finally:
        if isinstance(outcomes, Generator):  # cancel requests in flight, stop a server
            outcomes.close()
    return writer.finish()


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
    offline = OfflineBackend(settings_tags)
    done = 0
    for batch in _batches(papers, COMMIT_EVERY):
        with db.atomic():
            for paper in batch:
                save_summary(
                    db, paper_id(paper), offline.stand_in(paper, failed=failed, reason=reason)
                )
                done += 1
    return done


class _Writer:
    """Stores outcomes and counts them into the report."""

    def __init__(self, db: Database, backend: Backend, run_id: int | None, total: int) -> None:
        self.db, self.backend, self.run_id = db, backend, run_id
        self.report = SummarizeReport(backend=backend.name, model=backend.model, total=total)
        self.stops: str | None = None
        self.skipped = 0
        self._offline: OfflineBackend | None = None

    def write(self, outcomes: list[Outcome]) -> None:
        with self.db.atomic():
            for outcome in outcomes:
                self._write(outcome)

    def _write(self, outcome: Outcome) -> None:
        pid, calls, report = paper_id(outcome.paper), outcome.calls, self.report
        summary = outcome.summary or self._stand_in(outcome)
        if calls:
            save_outcome(
                self.db,
                pid,
                summary,
                calls,
                run_id=self.run_id,
                backend=self.backend.name,
                model=self.backend.model,
            )
        else:
            save_summary(self.db, pid, summary)
        report.done += 1
        report.calls += len(calls)
        report.input_tokens += sum(c.input_tokens or 0 for c in calls)
        report.output_tokens += sum(c.output_tokens or 0 for c in calls)
        report.cost += sum(c.cost for c in calls)

    def _stand_in(self, outcome: Outcome) -> Summary:
        """A failed paper's offline summary, marked as a fallback with the reason:
        never passed off as the model's."""
        failure = outcome.failure
        reason = failure.reason if failure is not None else "the backend returned nothing"
        self.report.fell_back += 1
        if failure is not None and failure.kind == SKIPPED:
            self.skipped += 1  # told once, in report.stopped
        else:
            self.report.errors.append(f"paper {outcome.paper.id}: {reason}")
        if failure is not None and failure.stops:
            self.stops = failure.stops
        if self._offline is None:
            self._offline = OfflineBackend(self.backend.tag_descriptions)
        failed = f"{self.backend.name}:{self.backend.model}"
        return self._offline.stand_in(outcome.paper, failed=failed, reason=reason)

    def finish(self) -> SummarizeReport:
        if self.stops:
            self.report.stopped = (
                f"{self.stops}; {self.skipped} papers used the offline backend "
                "instead (the next run tries them again)"
            )
        return self.report


def paper_id(paper: Paper) -> int:
    if paper.id is None:
        raise ValueError("summarising into the store takes stored papers (with ids)")
    return paper.id


def _batches(papers: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    items = iter(papers)
    while batch := list(islice(items, size)):
        yield batch

"""One daily pass: ingest -> summarise -> deliver -> write the day's digest.

Every step is idempotent (known files are skipped, summarised papers are not
sent to the model again, delivered papers are not mailed again), so running
the pass twice, or after a crash, only does what is left. Each pass is
recorded in the `runs` table and ends with one summary line.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlite_utils import Database

from digest.config import Settings
from digest.dates import digest_day
from digest.errors import ConfigError, DigestError
from digest.files import write_atomic
from digest.store import translate
from digest.store.runs import finish_run, mark_abandoned, start_run
from digest.text import plural

if TYPE_CHECKING:
    from digest.mail.transport import Transport

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """Raised at a safe point when a stop was requested (SIGTERM, Ctrl-C)."""


@dataclass
class RunReport:
    run_id: int
    day: str
    new_papers: int = 0
    summarised: int = 0
    fell_back: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    digest_path: str | None = None
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    failed: bool = False  # a configuration error, or a step broke unexpectedly
    config_error: bool = False
    notes: list[str] = field(default_factory=list)
    mail_lines: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.failed:
            return "failed"
        if self.interrupted:
            return "interrupted"
        return "partial" if self.errors else "ok"

    @property
    def exit_code(self) -> int:
        """0: everything went out (or nothing to do); 1: some step partly failed, or the
        run was interrupted before the end (the next run finishes the job)."""
        if self.config_error:
            return 2
        return 1 if self.errors or self.interrupted else 0

    def line(self) -> str:
        text = (
            f"run {self.day}: {self.new_papers} new papers, {self.summarised} summarised"
            + (f" ({self.fell_back} offline fallbacks)" if self.fell_back else "")
            + f", {_count(self.emails_sent, 'email')} sent, {self.emails_failed} failed"
        )
        if self.errors:
            text += f", {_count(len(self.errors), 'error')}"
        if self.interrupted:
            text += " (interrupted: the next run finishes the job)"
        return text


def _count(n: int, noun: str) -> str:
    return plural(n, noun)


def run_pass(
    db: Database,
    settings: Settings,
    *,
    dumps: list[str] | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    transport: Transport | None = None,
    now: datetime | None = None,
    debug: bool = False,
    force: bool = False,
) -> RunReport:
    """Run every step once; a step that fails is reported and the others still run.

    An unexpected error in a step (a full disk, a broken template) ends the
    run as `failed` with the error recorded, in one line (the traceback is
    logged with `debug`); the steps after it still run where they can.
    """
    now = now or datetime.now(UTC)
    day = digest_day(settings, now)  # a bad [schedule] timezone stops here, before any record
    mark_abandoned(db)
    report = RunReport(run_id=start_run(db, "run"), day=day)
    steps = [
        ("ingest", lambda: _ingest(db, settings, dumps, report)),
        ("summarise", lambda: _summarise(db, settings, report, should_stop)),
        ("send", lambda: _send(db, settings, report, dry_run, should_stop, transport, force)),
        ("digest", lambda: _write_digest(db, settings, report, dry_run)),
    ]
    try:
        for name, step in steps:
            if should_stop():
                raise Interrupted
            try:
                step()
            except ConfigError as exc:
                # e.g. a template that breaks only when rendered: recorded, exit 2,
                # and the steps that do not need it still run.
                report.errors.append(f"{name}: {exc}")
                report.failed = report.config_error = True
                log.info("%s failed: %s", name, exc)
            except DigestError as exc:
                report.errors.append(f"{name}: {exc}")
                log.info("%s failed: %s", name, exc)
            except (Interrupted, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - recorded, and the next steps still run
                report.errors.append(f"{name}: {_unexpected(exc)}")
                report.failed = True
                log.error("%s failed unexpectedly: %s", name, exc, exc_info=debug)
    except (Interrupted, KeyboardInterrupt):
        report.interrupted = True
    finally:
        finish_run(
            db,
            report.run_id,
            report.status,
            errors=report.errors,
            line=report.line(),
            papers_new=report.new_papers,
            summarised=report.summarised,
            fell_back=report.fell_back,
            emails_sent=report.emails_sent,
            emails_failed=report.emails_failed,
        )
    return report


def _unexpected(exc: Exception) -> str:
    """An unexpected error in one line: SQLite's in words, others with their type."""
    if isinstance(exc, sqlite3.Error):
        words = translate(exc)
        if words is not exc:
            return str(words)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    return f"unexpected error: {type(exc).__name__}: {exc}"


def _ingest(db: Database, settings: Settings, dumps: list[str] | None, report: RunReport) -> None:
    from digest.sources.ingest import ingest_paths

    paths = [*settings.sources.dumps, *(dumps or [])]
    results = ingest_paths(db, paths) if paths else []
    if settings.sources.hf_daily or settings.sources.arxiv_categories:
        from digest.sources.live import fetch_enabled_sources

        results += fetch_enabled_sources(db, settings)
    if settings.sources.resolving:
        from digest.sources.resolve import resolve_links

        # Links are a nicety: a search that is down is a note, not a failed run;
        # the papers it could not answer are looked up next run.
        resolved = resolve_links(db, settings)
        report.notes += [resolved.line, *(f"links: {e}" for e in resolved.errors)]
    for r in results:
        report.new_papers += r.new
        if r.error:
            report.errors.append(f"ingest: {r.error}")
        for warning in r.warnings:
            log.warning("%s", warning)
    if not results:
        report.notes.append("no sources configured: set [sources] dumps or pass dump folders")


def _summarise(
    db: Database, settings: Settings, report: RunReport, should_stop: Callable[[], bool]
) -> None:
    from digest.backends import get_backend
    from digest.errors import BackendError
    from digest.summarize import (
        SummarizeReport,
        collapse,
        fall_back_offline,
        summarize_pending,
        unsummarised_at_all_paged,
    )

    def progress(done: SummarizeReport) -> None:
        report.summarised, report.fell_back = done.done, done.fell_back

    try:
        backend = get_backend(settings.llm.backend, settings)
        result = summarize_pending(
            db, backend, progress, run_id=report.run_id, should_stop=should_stop
        )
    except BackendError as exc:
        # The model cannot be used at all (no key, server down, unknown model): the
        # day's email still goes out, with offline summaries that say why.
        left = unsummarised_at_all_paged(db)
        failed = f"{settings.llm.backend}:{settings.llm.model}"
        stood_in = fall_back_offline(db, settings.tags, left, failed=failed, reason=str(exc))
        report.fell_back += stood_in
        report.summarised += stood_in
        report.errors.append(f"summarise: {exc}; {stood_in} papers got offline summaries for now")
        return
    report.summarised = result.done
    report.fell_back = result.fell_back
    if result.stopped:
        report.errors.append(f"summarise: {result.stopped}")
    report.errors += [f"summarise: {e}" for e in collapse(result.errors)[:20]]


def _send(
    db: Database,
    settings: Settings,
    report: RunReport,
    dry_run: bool,
    should_stop: Callable[[], bool],
    transport: Transport | None,
    force: bool = False,
) -> None:
    from digest.mail.delivery import send_digests
    from digest.roster import sync_config_subscribers

    sync_config_subscribers(db, settings)
    result = send_digests(
        db,
        settings,
        dry_run=dry_run,
        transport=transport,
        should_stop=should_stop,
        day=report.day,
        force=force,
    )
    report.emails_sent = result.sent
    report.emails_failed = result.failed
    report.errors += [f"send: {e}" for e in result.errors]
    report.mail_lines = result.lines
    if not result.outcomes:
        report.notes.append("no subscribers: add one with `digest subscribe EMAIL`")


def _write_digest(db: Database, settings: Settings, report: RunReport, dry_run: bool) -> None:
    """The day's Markdown digest: the papers first seen that day, best rank first, at most
    [digest] max_digest_papers (it says how many more there were); rewritten each run."""
    from digest.render.markdown import build_digest

    if dry_run:
        return
    # No backend: the summarise step already ran; what it could not do shows as such.
    result = build_digest(
        db,
        settings,
        None,
        since=report.day,
        today=report.day,
        limit=settings.digest.max_digest_papers,
    )
    folder = Path(settings.digest.output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{report.day}.md"
        write_atomic(target, result.text.encode("utf-8"))
    except OSError as exc:
        raise DigestError(
            f"cannot write the digest into [digest] output_dir {folder}: {exc.strerror or exc}"
        ) from exc
    report.digest_path = str(target)

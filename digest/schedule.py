"""`digest serve`: APScheduler running the daily pass on a crontab schedule.

Three promises, each kept by a small mechanism:
* a run missed while the process was asleep runs once when it wakes
  (APScheduler: coalesce, no misfire limit); one missed while the machine was
  off runs once at start-up (the `runs` table says when we last ran);
* never two runs at once (`max_instances=1` here, the run lock across processes);
* SIGTERM/Ctrl-C stops at a safe point: the run is recorded as interrupted
  and the next run finishes the job.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from digest.config import Settings
from digest.dates import missed_run, next_run_time, timezone, trigger

__all__ = [
    "missed_run",
    "next_run_time",
    "scheduled_run",
    "serve",
    "stop_on_signals",
    "timezone",
    "trigger",
]

log = logging.getLogger(__name__)


def serve(
    settings: Settings,
    job: Callable[[], None],
    *,
    stop: threading.Event,
    run_now: bool = False,
    catch_up_from: datetime | None = None,
    announce: Callable[[str], None] = log.info,
) -> None:
    """Run `job` on the schedule until `stop` is set; returns once the job in hand ended.

    The caller installs signal handlers that set `stop` (and may call
    `stop_scheduler`); `job` itself checks `stop` at its safe points.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    cron = trigger(settings)
    zone = timezone(settings)
    scheduler = BlockingScheduler(
        timezone=zone,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    busy = threading.Lock()

    def guarded() -> None:
        with busy:
            if not stop.is_set():
                job()

    scheduler.add_job(guarded, cron, id="daily", name="digest run")
    now = datetime.now(zone)
    missed = missed_run(settings, catch_up_from, now)
    if run_now or missed:
        if missed and not run_now:
            announce(f"missed the run due at {_fmt(missed)}: running it now")
        scheduler.add_job(guarded, "date", run_date=now, id="now", name="digest run (now)")
    announce(
        f"next scheduled run: {_fmt(cron.get_next_fire_time(None, now))} "
        f"(cron {settings.schedule.cron!r}, {zone})"
    )
    watcher = threading.Thread(target=_stop_when_set, args=(stop, scheduler), daemon=True)
    watcher.start()
    scheduler.start()  # blocks until the watcher shuts the scheduler down
    with busy:  # the run in hand (if any) has reached a safe point and ended
        pass
    watcher.join(timeout=5)


def _stop_when_set(stop: threading.Event, scheduler) -> None:  # noqa: ANN001
    from apscheduler.schedulers import SchedulerNotRunningError

    stop.wait()
    for _ in range(200):  # a stop that came before start() waits for it (10 s at most)
        if scheduler.running:
            break
        time.sleep(0.05)
    with contextlib.suppress(SchedulerNotRunningError):
        scheduler.shutdown(wait=True)


def _fmt(when: datetime | None) -> str:
    return when.isoformat(timespec="minutes") if when else "never"


def scheduled_run(settings: Settings, stop: threading.Event, debug: bool = False) -> None:
    """One pass in the scheduler's worker thread (with its own connection)."""
    from digest.errors import DigestError, LockedError
    from digest.locks import hold
    from digest.pipeline import run_pass
    from digest.store import open_db

    try:
        with hold(settings.db, "run"), contextlib.closing(open_db(settings.db)) as db:
            report = run_pass(db, settings, should_stop=stop.is_set, debug=debug)
    except LockedError as exc:
        log.warning("skipped: %s", exc)
        return
    except DigestError as exc:
        log.error("run failed: %s", exc)
        return
    for note in report.notes:
        log.warning("%s", note)
    for error in report.errors:
        log.error("%s", error)
    log.info("%s", report.line())


class stop_on_signals:
    """SIGTERM and SIGINT set `stop` instead of killing: the work in hand ends at a safe point."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.stop.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        log.info("stopping after the work in hand (signal %d)", signum)
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

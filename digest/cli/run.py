"""The daily job: `digest run` (one pass, for cron) and `digest serve` (the scheduler)."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime
from pathlib import Path

import click

from digest.cli.app import AppContext, cli, pass_app, setup_logging

log = logging.getLogger("digest.serve")


@cli.command()
@click.argument("dumps", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Ingest and summarise, but send nothing and write no digest file.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also email readers who already got today's digest (the papers new since).",
)
@pass_app
def run(app: AppContext, dumps: tuple[Path, ...], dry_run: bool, force: bool) -> None:
    """Run the daily job once: ingest, summarise, email, write the day's digest.

    Dump folders given here are read in addition to [sources] dumps. Exit
    status: 0 everything went out (or there was nothing to do), 1 some step
    partly failed (the rest was still done), 2 configuration error. This is
    the command for cron and systemd timers; `digest serve` runs it daily.
    Each reader gets at most one email per digest day: a second run the same
    day only retries what could not be sent (--force sends the papers new since).

    \b
    Example:
      digest run examples/dumps
      digest run --dry-run
    """
    from digest.locks import hold
    from digest.pipeline import run_pass
    from digest.schedule import stop_on_signals

    debug = bool(click.get_current_context().meta.get("debug"))
    settings = app.load(sending=True)  # every setting and secret checked: none is found wrong later
    db = app.db  # a bad --db path fails here with one line, before any lock file
    stop = threading.Event()
    with hold(settings.db, "run"), stop_on_signals(stop):
        report = run_pass(
            db,
            settings,
            dumps=[str(d) for d in dumps],
            dry_run=dry_run,
            should_stop=stop.is_set,
            debug=debug,
            force=force,
        )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for error in report.errors:
        click.secho(f"error: {error}", fg="red", err=True)
    for line in report.mail_lines:
        click.echo(f"email: {line}")
    if report.digest_path:
        click.echo(f"digest: {report.digest_path}")
    click.echo(report.line())
    sys.exit(report.exit_code)


@cli.command()
@click.option("--run-now", is_flag=True, help="Also run once at start.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Also write logs to FILE.")
@click.option(
    "--web",
    "with_web",
    is_flag=True,
    help="Also serve the readers' web application ([web] host/port), as `digest web` does.",
)
@pass_app
def serve(app: AppContext, run_now: bool, log_file: str | None, with_web: bool) -> None:
    """Run the daily job on the [schedule] cron line until stopped.

    A run missed while the machine was off or asleep happens once when it is
    back. SIGTERM or Ctrl-C stops it cleanly after the paper or email in
    hand. Logs go to stderr with timestamps. With --web, the readers' web
    application runs in the same process, so one service does everything.

    \b
    Example:
      digest serve --run-now
      digest serve --web
      digest --config /etc/digest.toml serve --log-file digest.log
    """
    from digest.locks import hold
    from digest.schedule import scheduled_run, stop_on_signals
    from digest.schedule import serve as serve_forever

    debug = bool(click.get_current_context().meta.get("debug"))
    from digest.store.runs import last_completed_run, last_run, mark_abandoned

    settings = app.load(sending=True)  # every setting checked, the cron line and secrets too
    db = app.db
    web = None
    if with_web:
        from functools import partial

        from digest.web import create_app
        from digest.web.server import Background

        # A missing key or public_url fails here; the port is bound once the lock is held.
        web = partial(
            Background, create_app(settings), settings.web.host, settings.web.port, "set [web] port"
        )
    setup_logging(app.verbose + 1, app.quiet, log_file)  # a daemon logs INFO by default
    stop = threading.Event()
    with hold(settings.db, "serve"), stop_on_signals(stop), _running(web):
        mark_abandoned(db)  # a run killed with its `serve` is interrupted, not running
        last, done = last_run(db, "run"), last_completed_run(db, "run")
        if last is not None and done is None:
            run_now = True  # runs so far were all interrupted: the job is owed now
        serve_forever(
            settings,
            lambda: scheduled_run(settings, stop, debug),
            stop=stop,
            run_now=run_now,
            catch_up_from=datetime.fromisoformat(done["started"]) if done else None,
            announce=log.info,
        )
    log.info("stopped")


class _running:
    """The web server (if any) for the duration of the block. `make` binds its
    port (a ConfigError when it is in use) before anything is announced."""

    def __init__(self, make) -> None:  # noqa: ANN001
        self.make = make
        self.web = None

    def __enter__(self) -> None:
        if self.make is not None:
            web = self.web = self.make()
            web.start()
            log.info("readers' web on http://%s:%d", *web.address)

    def __exit__(self, *exc: object) -> None:
        if self.web is not None:
            self.web.stop()

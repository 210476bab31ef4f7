"""The `digest` group, its global options and what every command shares.

Apart from the package's __init__ so the commands import it without a cycle.
Domain errors become one line on stderr; tracebacks only with --debug.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from digest import __version__
from digest.errors import ConfigError, DigestError
from digest.secrets import scrub


@dataclass
class AppContext:
    """What every command may need, resolved lazily from the global options."""

    config: str | None
    options: dict[str, Any] = field(default_factory=dict)
    verbose: int = 0
    quiet: int = 0
    _settings: Any = None
    _db: Any = None

    sending: bool = False

    @property
    def settings(self):  # -> Settings
        if self._settings is None:
            from digest.config import load_settings

            self._settings = load_settings(self.config, sending=self.sending, **self.options)
        return self._settings

    def load(self, *, backend: str | None = None, sending: bool = False):  # -> Settings
        """The settings with this command's own options (--backend) laid over the
        global ones, through the same loader and checks; `sending`: the command
        sends mail, so the secrets that takes must be set as well."""
        if backend is not None:
            self.options["llm.backend"] = backend
        self.sending = self.sending or sending
        self._settings = None
        return self.settings

    @property
    def db(self):  # -> sqlite_utils.Database
        if self._db is None or getattr(self._db, "read_only", False):
            from digest.store import open_db

            self._db = open_db(self.settings.db)
        return self._db

    @property
    def read_db(self):  # -> sqlite_utils.Database
        """The database for a command that only reads: opened read-only when this
        user may not write the file or its folder, instead of failing."""
        if self._db is None:
            from digest.store import open_db

            self._db = open_db(self.settings.db, read_only=True)
        return self._db


pass_app = click.make_pass_decorator(AppContext)


def setup_logging(verbose: int, quiet: int, log_file: str | None = None) -> None:
    """-v/-q to logging levels, in one place: WARNING by default, -v INFO, -vv DEBUG."""
    level = max(logging.DEBUG, min(logging.ERROR, logging.WARNING - 10 * verbose + 10 * quiet))
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot write the log file {log_file}: {exc.strerror}") from exc
    from digest.secrets import ScrubFilter

    for handler in handlers:
        handler.addFilter(ScrubFilter())
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    for noisy in ("httpx", "httpcore", "openai", "apscheduler", "mail.log"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class DigestGroup(click.Group):
    """Turns DigestError into one clear line and a meaningful exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            if ctx.meta.get("debug"):
                raise
            click.secho(f"Error: {scrub(str(exc))}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except sqlite3.Error as exc:
            # Whatever SQLite says (a busy or read-only database, a full disk) is said
            # in one line; the traceback is for --debug.
            if ctx.meta.get("debug"):
                raise
            from digest.store import translate

            words = translate(exc)
            message = str(words) if words is not exc else f"database error: {exc}"
            click.secho(f"Error: {scrub(message)}", fg="red", err=True)
            ctx.exit(getattr(words, "exit_code", 1))
        except OSError as exc:
            if ctx.meta.get("debug"):
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            click.secho(f"Error: {exc.strerror or exc}{where}", fg="red", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo(
                "Interrupted: work done so far is saved; run the command again to resume.", err=True
            )
            ctx.exit(130)


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="digest")
@click.option(
    "--config",
    "config",
    metavar="PATH",
    help="Config file (default: $DIGEST_CONFIG, else ./digest.toml, else built-ins).",
)
@click.option(
    "--db",
    metavar="PATH",
    help="SQLite database (default: $DIGEST_DB, else the config's db, else digest.db).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(
    ctx: click.Context, config: str | None, db: str | None, verbose: int, quiet: int, debug: bool
) -> None:
    """Trending research papers, summarised and delivered once a day.

    \b
    Quick start:
      digest subscribe you@example.org
      digest run examples/dumps        (the daily job: ingest, summarise, email, digest)
      digest status
    """
    ctx.meta["debug"] = debug
    setup_logging(verbose, quiet)
    ctx.obj = AppContext(config=config, options={"db": db}, verbose=verbose, quiet=quiet)


def parse_date(value: str | None) -> str | None:
    """A --since/--date option value as YYYY-MM-DD, or a usage error."""
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from None


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="digest")

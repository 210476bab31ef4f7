"""The `digest` command line: a thin layer over the library.

Each command parses its options, calls one library function and prints. The
group and what the commands share live in `app`; importing the command modules
here registers them on it.
"""

from digest.cli import build as _build  # noqa: F401  (registers commands)
from digest.cli import feedback as _feedback  # noqa: F401
from digest.cli import mail as _mail  # noqa: F401
from digest.cli import papers as _papers  # noqa: F401
from digest.cli import run as _run  # noqa: F401
from digest.cli import status as _status  # noqa: F401
from digest.cli import summaries as _summaries  # noqa: F401
from digest.cli import web as _web  # noqa: F401
from digest.cli.app import AppContext, cli, main, parse_date, pass_app, setup_logging

__all__ = ["AppContext", "cli", "main", "parse_date", "pass_app", "setup_logging"]

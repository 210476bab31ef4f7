"""Domain errors. Each message says what is wrong and how to fix it.

The CLI turns every `DigestError` into one line on stderr and an exit code;
library code raises them and never prints or exits.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    exit_code = 1


class ConfigError(DigestError):
    """The configuration (file, environment or options) is invalid."""

    exit_code = 2


class InputError(DigestError):
    """A command-line argument is unusable (e.g. not an email address): exit status 2."""

    exit_code = 2


class DumpError(DigestError):
    """A file is not a trending-papers dump; the message names the file."""


class StoreError(DigestError):
    """The database cannot be opened or is not ours (fix --db / DIGEST_DB / db: exit 2)."""

    exit_code = 2


class BackendError(DigestError):
    """A summarising backend cannot be used (unknown name, missing key, ...)."""


class MissingKeyError(BackendError, ConfigError):
    """A model backend needs a key that the environment does not hold (exit 2).

    Still a BackendError, so that `digest run` falls back to offline summaries."""


class SourceError(DigestError):
    """A live source (Hugging Face, arXiv) failed; the message names it."""


class MailError(DigestError):
    """Email could not be built or delivered; the message says why in words."""


class LockedError(DigestError):
    """Another digest run holds the lock."""


class BusyError(DigestError):
    """Another process held the database's write lock for longer than the busy timeout."""

"""Secrets never leave the process: every text that is printed, logged or stored
passes `scrub`, which blanks each configured secret wherever it came from (an
SMTP server that echoes the login, a proxy that quotes the Authorization header).

The set of secrets is process-wide on purpose, like logging's configuration:
whoever reads a secret registers it once, and every exit path can scrub
without being handed the settings.
"""

from __future__ import annotations

import base64
import logging
import threading

MASK = "[secret]"
_MIN_LENGTH = 4  # shorter values would blank ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()


def register(value: str | None, *, username: str | None = None) -> None:
    """Remember a secret (and the encodings an SMTP or HTTP exchange would show)."""
    if not value or len(value) < _MIN_LENGTH:
        return
    forms = {value, _b64(value)}
    if username:
        forms.add(_b64(f"\0{username}\0{value}"))  # AUTH PLAIN
        forms.add(_b64(f"{username}:{value}"))  # HTTP Basic
    with _lock:
        _secrets.update(f for f in forms if len(f) >= _MIN_LENGTH)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by [secret]."""
    if not text or not _secrets:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def forget_all() -> None:
    """Drop every registered secret (a new configuration, or a test)."""
    with _lock:
        _secrets.clear()


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                text = scrub(str(record.exc_info[1]))
                if text != str(record.exc_info[1]):
                    record.exc_info = None
                    record.exc_text = None
                    record.msg = f"{record.msg} ({text})"
        return True


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")

"""Summarising backends: papers in, outcomes out, behind one small protocol.

`offline` is deterministic and needs no network; `openai` talks to any
OpenAI-compatible server; `local` runs a GGUF model with llama.cpp on this
machine (the `openai` code path against a server it starts). Look one up with `get_backend`.

A backend only summarises: it imports nothing from the store and writes nothing
to it. `summarize_many` yields one `Outcome` per paper, with the model calls it
made, and digest/summarize/writer.py stores each one (summary or stand-in, and its
logged calls) as it comes. That keeps the store's rules (what counts as done, the
summarise lock taken before any paid call, one transaction per paid paper) in one
place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.backends.base import (
    FAILED,
    SKIPPED,
    Backend,
    Failure,
    OneAtATime,
    Outcome,
    StopCheck,
    never,
)
from digest.errors import BackendError
from digest.models import BACKENDS, OFFLINE

if TYPE_CHECKING:
    from digest.config import Settings

__all__ = [
    "BACKENDS",
    "FAILED",
    "OFFLINE",
    "SKIPPED",
    "Backend",
    "Failure",
    "OneAtATime",
    "Outcome",
    "StopCheck",
    "get_backend",
    "never",
]


def get_backend(name: str, settings: Settings) -> Backend:
    """Return the backend called `name`, configured from `settings`."""
    if name == OFFLINE:
        from digest.backends.offline import OfflineBackend

        return OfflineBackend(settings.tags)
    if name == "openai":
        from digest.backends.openai import OpenAIBackend

        return OpenAIBackend.from_settings(settings)
    if name == "local":
        from digest.backends.local import LocalBackend

        return LocalBackend.from_settings(settings)
    raise BackendError(
        f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)} "
        "(--backend or [llm] backend)"
    )

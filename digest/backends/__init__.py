"""Summarising backends: Paper -> Summary behind one small protocol.

`offline` is deterministic and needs no network; `openai` talks to any
OpenAI-compatible server; `local` runs a GGUF model with llama.cpp on this
machine (the `openai` code path against a server it starts). Look one up with `get_backend`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from digest.errors import BackendError
from digest.models import BACKENDS, OFFLINE

if TYPE_CHECKING:
    from digest.config import Settings
    from digest.models import Paper, Summary


class Backend(Protocol):
    """A summariser. `name` and `model` are stored beside every summary."""

    name: str
    model: str
    prompt_version: str

    def summarize(self, paper: Paper) -> Summary: ...


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

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

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from digest.errors import BackendError
from digest.models import BACKENDS, OFFLINE, LLMCall, Paper, Summary

if TYPE_CHECKING:
    from digest.config import Settings

# The two ways a paper can come back without the model's summary.
FAILED = "failed"  # the model was asked and failed (bad reply, timeout, ...): told per paper
SKIPPED = "skipped"  # never sent: the backend had stopped sending (quota, cost cap, breaker)

StopCheck = Callable[[], bool]


def never() -> bool:
    """The `should_stop` of a batch nobody will stop early."""
    return False


@dataclass(frozen=True)
class Failure:
    """Why a paper got no summary from the backend's model; the next run tries again."""

    reason: str
    kind: str = FAILED  # FAILED | SKIPPED
    # Set on the one failure that made the backend stop sending papers to its model
    # (quota exhausted, cost cap, papers failing in a row): why. The papers after it
    # come back SKIPPED with the same reason.
    stops: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a backend did with one paper: a summary or a failure, and the calls it made
    (each one paid for, so each one is logged, whatever became of the paper)."""

    paper: Paper
    summary: Summary | None = None
    failure: Failure | None = None
    calls: tuple[LLMCall, ...] = ()


class Backend(Protocol):
    """A summariser. `name`, `model` and `prompt_version` are stored beside every summary;
    `tag_descriptions` is its vocabulary (tag -> description)."""

    name: str
    model: str
    prompt_version: str
    tag_descriptions: Mapping[str, str]

    def summarize(self, paper: Paper) -> Summary:
        """One paper, nothing stored (`digest tag --title`)."""
        ...

    def summarize_many(
        self, papers: Collection[Paper], *, should_stop: StopCheck = never
    ) -> Iterator[Outcome]:
        """An outcome per paper, in the order they finish. A stop request
        (`should_stop()` true) ends the batch at the next paper: requests in flight
        are abandoned, and their papers are simply pending next time."""
        ...


class OneAtATime:
    """`summarize_many` for a backend that summarises one paper at a time (offline)."""

    def summarize(self, paper: Paper) -> Summary:
        raise NotImplementedError

    def summarize_many(
        self, papers: Collection[Paper], *, should_stop: StopCheck = never
    ) -> Iterator[Outcome]:
        for paper in papers:
            if should_stop():
                return
            yield Outcome(paper, self.summarize(paper))


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

"""The backend protocol and what a backend gives back (an Outcome per paper).

Apart from the package's __init__ so the backends import it without importing
the registry that imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from digest.models import LLMCall, Paper, Summary

if TYPE_CHECKING:
    pass

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

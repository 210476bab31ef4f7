"""Small records passed between the pipeline stages.

They carry data only; the rules that interpret them (identity, delivery)
live in `identity.py` and the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The summarising backends by name: the offline (extractive) one needs no model
# and no network, so several rules treat it apart.
OFFLINE = "offline"
BACKENDS = (OFFLINE, "openai", "local")

# What a summary may be, in one place for the prompt, the reply check and the
# offline backend. The prompt asks for a TL;DR of TLDR_ASKED_WORDS; a reply of up
# to MAX_TLDR_WORDS is accepted (small models overshoot by a word or five, and a
# repair call costs more than the extra words), and the offline backend cuts there.
TLDR_ASKED_WORDS = 30
MAX_TLDR_WORDS = 35
MIN_TAGS = 1
MAX_TAGS = 5


@dataclass(frozen=True)
class Paper:
    """A paper as a source reports it, before or after it is stored.

    `id` is the store's row id (None for a paper not stored yet, e.g. one
    given on the command line to `digest tag`).
    """

    title: str
    abstract: str
    id: int | None = None
    arxiv_id: str | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    upvotes: int | None = None
    published: str | None = None
    # What only some sources (Hugging Face) know; None/empty elsewhere.
    github_repo: str | None = None
    project_page: str | None = None
    ai_keywords: tuple[str, ...] = ()
    num_comments: int | None = None
    thumbnail: str | None = None


@dataclass(frozen=True)
class Entry:
    """One sighting of a paper in a source: the paper plus where it stood."""

    paper: Paper
    rank: int
    listed: str | None = None  # the date label a dump put above the entry, e.g. "Sep 9"


@dataclass(frozen=True)
class Summary:
    """What a backend wrote about one paper.

    `error` is set when this summary is a fallback: the requested backend
    failed and another (the offline one) wrote it instead. Readers are told.
    """

    tldr: str
    summary: str
    tags: tuple[str, ...]
    backend: str
    model: str
    prompt_version: str
    error: str | None = None
    fallback_from: str | None = None


@dataclass(frozen=True)
class LLMCall:
    """One request to a model, as the call log records it (tokens, latency, cost).
    `status`: ok | repaired | invalid | error."""

    status: str
    latency_ms: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float = 0.0
    error: str | None = None
    finish_reason: str | None = None  # "stop", "length" (cut at max_tokens), ...


# The most papers one reader's email may be set to hold: `digest subscribe
# --max-papers` and the manage page's form check this one number (a value
# stored before it existed is kept as it is).
MAX_PAPERS = 1000


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str | None = None
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    max_papers: int | None = None
    active: bool = True
    id: int | None = None
    frequency: str = "daily"  # or "weekly" (digest/cadence.py)
    weekday: str | None = None  # mon..sun, weekly only
    match: str = "all"  # tags and keywords both ("all") or either ("any")
    interests: str | None = None  # in the reader's own words (digest/rank)
    min_relevance: float | None = None  # papers scoring under it are held back
    token_version: int = 0  # signed links carry it; bumped on unsubscribe (digest/signing.py)
    paused: bool = False  # not active, but paused (the manage page), not unsubscribed

    @property
    def state(self) -> str:
        """active, paused or unsubscribed: what the operator's commands say."""
        return "active" if self.active else "paused" if self.paused else "unsubscribed"


@dataclass
class IngestReport:
    """Outcome of ingesting one file: counts, or the reason it failed."""

    path: str
    entries: int = 0
    new: int = 0
    known: int = 0
    error: str | None = None
    skipped: bool = False  # same content already ingested
    warnings: list[str] = field(default_factory=list)

"""Per-reader relevance: each reader's due papers in the order they care about.

`Ranking` is made once per send. It builds the paper model (lexical, or an
embeddings model when `[rank] embeddings_model` is set) the first time a
reader with interests or votes needs it, then `plan`s each reader's email:
the due papers best first, cut to the reader's cap, the ones under their
`min_relevance` held back (counted, never silently dropped: they stay due
and `digest status` says how many), and a reason line per paper.

A reader with no interests and no votes keeps the trending order untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlite_utils import Database

from digest.config import Settings
from digest.models import Subscriber
from digest.rank.score import Corpus, Ranker
from digest.store.feedback import all_votes, ranking_corpus

log = logging.getLogger(__name__)
_WINDOW_DAYS = 7  # a weekly reader's window; daily ones use [digest] max_age_days


@dataclass
class Plan:
    """One reader's email: which papers, in which order, and why."""

    paper_ids: list[int]
    reasons: dict[int, str] = field(default_factory=dict)
    held_back: int = 0  # due papers scoring under the reader's min_relevance
    ranked: bool = False  # False: the trending order (no interests, no votes)


class Ranking:
    """The ranking of one send (or one `digest status`), built lazily, once."""

    def __init__(self, db: Database, settings: Settings, now: datetime) -> None:
        self.db = db
        self.settings = settings
        days = max(settings.digest.max_age_days, _WINDOW_DAYS) + 1
        self.since = (now - timedelta(days=days)).replace(microsecond=0).isoformat()
        self._ranker: Ranker | None = None
        self._votes: dict[int, dict[int, int]] | None = None
        self.note = ""  # why embeddings were not used, when they were asked for

    def votes(self, sub: Subscriber) -> dict[int, int]:
        if self._votes is None:
            self._votes = all_votes(self.db)
        return self._votes.get(sub.id or -1, {})

    def wants(self, sub: Subscriber) -> bool:
        """Whether this reader gave anything to rank by."""
        return bool((sub.interests or "").strip() or self.votes(sub))

    def plan(self, sub: Subscriber, due: list[int], cap: int) -> Plan:
        """`due` (trending order) ranked for `sub`, thresholded and cut to `cap`."""
        if not due or not self.wants(sub):
            return Plan(due[:cap])
        votes = self.votes(sub)
        # A paper the reader already rated (liked, thumbed up or down) is not news.
        due = [p for p in due if p not in votes]
        # Sorted best first, so the papers over the floor are a prefix: reasons
        # are needed for the first `cap` only.
        ranked = self.ranker().rank(due, sub.interests, votes, explain=cap)
        if ranked is None:
            return Plan(due[:cap])
        floor = sub.min_relevance
        keep = [r for r in ranked if floor is None or r.score >= floor]
        chosen = keep[:cap]
        return Plan(
            [r.paper_id for r in chosen],
            {r.paper_id: r.reason for r in chosen if r.reason},
            held_back=len(ranked) - len(keep),
            ranked=True,
        )

    def prepare(self, subs: list[Subscriber]) -> None:
        """Embed every reader's interests in a few batched requests (embeddings only)."""
        if not self.settings.rank.embeddings_model:
            return
        texts = [s.interests for s in subs if s.interests]
        space = self.ranker().space if texts else None
        if space is not None and hasattr(space, "prepare"):
            from digest.rank.embeddings import EmbeddingsError

            try:
                space.prepare(texts)
            except EmbeddingsError as exc:
                self.note = f"ranked with the lexical model: {exc}"
                log.warning("%s", self.note)
                self._ranker.space = self._ranker.lexical  # type: ignore[union-attr]

    def ranker(self) -> Ranker:
        if self._ranker is None:
            rows = ranking_corpus(self.db, self.since)
            corpus = Corpus([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
            self._ranker = Ranker(corpus, self._space(corpus))
        return self._ranker

    def _space(self, corpus: Corpus):
        if not self.settings.rank.embeddings_model or not corpus.ids:
            return None
        from digest.rank.embeddings import EmbeddingsError, EmbeddingSpace, OpenAIEmbedder

        try:
            return EmbeddingSpace.build(
                OpenAIEmbedder.from_settings(self.settings), corpus, self.db
            )
        except EmbeddingsError as exc:
            self.note = f"ranked with the lexical model: {exc}"
            log.warning("%s", self.note)
            return None

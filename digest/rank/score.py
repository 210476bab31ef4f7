"""One relevance score per (reader, paper), and a few words saying why.

Every signal a reader gives becomes a direction in the paper space, and a
paper's score is the cosine between it and the sum of those directions
(Rocchio's relevance feedback, 1971):

- the interests text, as a query vector;
- liked and thumbed-up papers, their mean vector; thumbed-down ones are
  subtracted at half weight (a dislike says less than a like);
- with enough ratings (`LEARN_AT` of them, at least `LEARN_EACH` of each
  kind) a logistic regression learnt from them, as Scholar Inbox does: its
  weight vector is one more direction.

So a score is always a cosine (0 to 1 for the lexical model), whatever the
reader gave, and `min_relevance` keeps one meaning. A reader who gave
nothing gets no ranking at all: today's trending order, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from digest.rank.lexical import Matrix, Vectorizer, paper_text, terms

LEARN_AT = 10  # ratings before the learnt model joins in
LEARN_EACH = 3  # ... with at least this many ups and downs
_DOWN_WEIGHT = 0.5
_REASON_LIKES = 50
_EXPAND_TOP = 5  # pseudo-relevance feedback: the best papers for the interests text ...
_EXPAND_WEIGHT = (
    0.5  # ... added to it at this weight  # liked papers compared with for the reason line
)
_PHRASE = re.compile(r"[,;/\n]|\band\b|\bor\b")


class Space(Protocol):
    """Paper vectors, one row per corpus paper: the lexical model or an embeddings model."""

    n: int
    dim: int

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Every row's dot product with `q` (rows have unit length)."""
        ...

    def query(self, text: str) -> np.ndarray:
        """A text (interests) as a vector in this space."""
        ...

    def mean(self, rows: Sequence[int]) -> np.ndarray: ...

    def block(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows as a dense matrix over the columns returned with it."""
        ...


class LexicalSpace:
    def __init__(self, texts: Sequence[str]) -> None:
        docs = [terms(t) for t in texts]
        self.vectorizer = Vectorizer(docs)
        self.matrix = Matrix(self.vectorizer, docs)
        self.n = self.matrix.n
        self.dim = self.vectorizer.size

    def scores(self, q: np.ndarray) -> np.ndarray:
        return self.matrix.scores(q)

    def query(self, text: str) -> np.ndarray:
        return self.vectorizer.dense(terms(text))

    def mean(self, rows: Sequence[int]) -> np.ndarray:
        return self.matrix.mean(rows)

    def block(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        return self.matrix.block(rows)


@dataclass(frozen=True)
class Ranked:
    paper_id: int
    score: float
    reason: str


@dataclass(frozen=True)
class Corpus:
    """The papers a ranker knows: the ones being ranked and the ones rated."""

    ids: list[int]
    titles: list[str]
    abstracts: list[str]


class Ranker:
    """Built once per send from the window's papers; ranks each reader in turn.

    `space` is the lexical model unless an embeddings space is given; the
    reason lines always come from the lexical model (words a reader can see).
    """

    def __init__(self, corpus: Corpus, space: Space | None = None) -> None:
        self.corpus = corpus
        self.row_of = {pid: i for i, pid in enumerate(corpus.ids)}
        self.lexical = LexicalSpace(
            [paper_text(t, a) for t, a in zip(corpus.titles, corpus.abstracts, strict=True)]
        )
        self.space: Space = space or self.lexical

    def rank(
        self,
        candidates: Sequence[int],
        interests: str | None,
        votes: Mapping[int, int],
        *,
        explain: int | None = None,
    ) -> list[Ranked] | None:
        """`candidates` (trending order) best first, or None for a reader with no signal.

        Ties keep the trending order. Reasons are written for the first
        `explain` papers (all when None): only those reach the email.
        """
        interests = (interests or "").strip() or None
        ups = [self.row_of[p] for p, v in votes.items() if v > 0 and p in self.row_of]
        downs = [self.row_of[p] for p, v in votes.items() if v < 0 and p in self.row_of]
        if not interests and not ups and not downs:
            return None
        q = self._direction(self.space, interests, ups, downs)
        norm = float(np.linalg.norm(q))
        all_scores = self.space.scores(q) / norm if norm else np.zeros(self.space.n)
        rows = np.array([self.row_of.get(p, -1) for p in candidates], dtype=np.int64)
        found = rows >= 0
        scores = np.zeros(len(candidates), dtype=np.float64)
        scores[found] = all_scores[rows[found]]
        # Best first; equal scores (to 6 places) keep the trending order.
        order = np.lexsort((np.arange(len(candidates)), -np.round(scores, 6)))
        shown = order if explain is None else order[:explain]
        reasons = self._reasons([candidates[k] for k in shown], interests, ups)
        return [
            Ranked(candidates[k], float(scores[k]), reasons.get(candidates[k], "")) for k in order
        ]

    def _direction(
        self, space: Space, interests: str | None, ups: list[int], downs: list[int]
    ) -> np.ndarray:
        q: np.ndarray | None = None

        def add(v: np.ndarray, weight: float) -> None:
            nonlocal q
            n = float(np.linalg.norm(v))
            if n:
                q = v * (weight / n) if q is None else q + v * (weight / n)

        if interests:
            add(expand(space, space.query(interests)), 1.0)
        if ups:
            add(space.mean(ups), 1.0)
        if downs:
            add(-space.mean(downs), _DOWN_WEIGHT)
        if len(ups) + len(downs) >= LEARN_AT and min(len(ups), len(downs)) >= LEARN_EACH:
            x, cols = space.block(ups + downs)
            y = np.array([1.0] * len(ups) + [0.0] * len(downs))
            w = np.zeros(space.dim, dtype=np.float32)
            w[cols] = logistic_weights(x, y)
            add(w, 1.0)
        return q if q is not None else np.zeros(space.dim, dtype=np.float32)

    def _reasons(self, shown: list[int], interests: str | None, ups: list[int]) -> dict[int, str]:
        """A few words per paper: the interest phrase or the liked paper it is closest to."""
        if not shown:
            return {}
        lex = self.lexical
        rows = np.array([self.row_of.get(p, -1) for p in shown], dtype=np.int64)
        best_phrase = np.zeros(len(shown))
        phrase_of = [""] * len(shown)
        for phrase in phrases(interests or ""):
            sims = np.where(rows >= 0, lex.scores(lex.query(phrase))[rows], 0.0)
            better = sims > best_phrase
            best_phrase = np.where(better, sims, best_phrase)
            for i in np.flatnonzero(better):
                phrase_of[int(i)] = phrase
        best_like = np.zeros(len(shown))
        like_of = np.zeros(len(shown), dtype=np.int64)
        recent = ups[-_REASON_LIKES:]
        if recent:
            block, _ = lex.block([max(r, 0) for r in rows] + recent)
            sims = _products(block[: len(shown)], block[len(shown) :])  # shown x liked
            sims[rows < 0] = 0.0
            sims[rows[:, None] == np.array(recent)[None, :]] = 0.0  # not "like itself"
            like_of = np.argmax(sims, axis=1)
            best_like = sims[np.arange(len(shown)), like_of]
        out: dict[int, str] = {}
        for k, pid in enumerate(shown):
            if best_phrase[k] > 0 and best_phrase[k] >= best_like[k]:
                out[pid] = f"matches your interest in “{_short(phrase_of[k], 60)}”"
            elif best_like[k] > 0:
                title = _short(self.corpus.titles[recent[like_of[k]]], 60)
                out[pid] = f"like “{title}”, which you liked"
            elif interests:
                out[pid] = "no clear match with your interests; in trending order"
            else:
                out[pid] = "unlike the papers you rated down; in trending order"
        return out


def expand(space: Space, q: np.ndarray) -> np.ndarray:
    """The interests query plus the mean of the papers it finds best (pseudo-relevance
    feedback, Rocchio/Lavrenko): an interest statement is short, the papers that match
    it best add the words it did not think of. On the dev labels this lifts precision@10
    of tag descriptions from 0.70 to 0.75 (bench/relevance.py)."""
    norm = float(np.linalg.norm(q))
    if not norm or space.n < 2 * _EXPAND_TOP:
        return q
    q = q / norm
    top = np.argsort(-space.scores(q), kind="stable")[:_EXPAND_TOP]
    centroid = space.mean([int(i) for i in top])
    size = float(np.linalg.norm(centroid))
    return q + centroid * (_EXPAND_WEIGHT / size) if size else q


def phrases(interests: str) -> list[str]:
    """The separate interests in a statement: split at commas, semicolons, and/or."""
    parts = [" ".join(p.split()) for p in _PHRASE.split(interests)]
    return [p for p in parts if p and terms(p)]


def logistic_weights(
    x: np.ndarray, y: np.ndarray, *, l2: float = 0.1, steps: int = 12
) -> np.ndarray:
    """The weights of an L2-regularised logistic regression (classes balanced).

    Newton's method in the dual: the weights stay a combination of the rated
    papers' rows (w = X'a, the bias folded in as a constant feature), so each
    step solves an n x n system for n ratings, however many terms they use.
    A dozen steps converge; no solver library is needed.
    """
    xs = x.astype(np.float64)
    gram = _products(xs, xs) + 1.0
    n = len(y)
    pos = y.sum()
    weights = np.where(y > 0, n / (2 * max(pos, 1)), n / (2 * max(n - pos, 1))) / n
    a = np.zeros(n)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(gram @ a)))
        grad = weights * (p - y) + l2 * a
        curve = weights * p * (1 - p)
        step = np.linalg.solve(curve[:, None] * gram + l2 * np.eye(n), grad)
        a -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return np.einsum("ij,i->j", xs, a)


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b.T for the small matrices of one reader, without BLAS: its threads cost
    more to wake (on a busy machine, tens of milliseconds) than these products take."""
    return np.einsum("ik,jk->ij", a, b)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"

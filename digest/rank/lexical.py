"""A lexical paper model: TF-IDF vectors with numpy, no download, no network.

Why not a library: the whole job is a tokenizer, a vocabulary, IDF weights
and a sparse matrix-vector product; with numpy that is ~100 lines, builds
for a week of papers in milliseconds and scores a reader in well under one.

Terms are stemmed lower-case words (no stop words; a hyphenated word such
as "latent-variable" stays one term, as authors write it) and the pairs of
adjacent words ("latent variable", "variable model"), so a phrase
in someone's interests counts for more than its words scattered about. The
title is counted twice: it says what the paper is about most densely.
Vectors use sublinear term frequency and unit length, so a dot product is a
cosine similarity between 0 and 1.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_SNOWBALL = snowballstemmer.stemmer("english")
_STOP_WORDS = """
    a about above across after again against all almost also although always am among an and
    another any are around as at be because been before being below between both but by can could
    did do does doing done during each either else enough etc even ever every few for from further
    furthermore had has have having here hereby herein hence how however i if in into is it its
    itself just least less like made make makes many may me might more moreover most much must my
    namely neither no nor not novel of off often on once one only onto or other others otherwise
    our ours out over own per perhaps propose proposed proposes present presents rather same several
    shall she should show shows shown since so some such than that the their them themselves then
    there thereby therefore these they this those though through thus to together too toward towards
    under until up upon us use used uses using very via was we well were what whatever when where
    whether which while who whose why will with within without would yet you your paper papers
    work works approach approaches method methods new based first also
"""
STOP = frozenset(_STOP_WORDS.split())


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A word's stem: plurals folded first ("llms" -> "llm", "studies" -> "study"),
    then the Snowball (Porter 2) English stemmer ("generative" -> "generat")."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("'s"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _SNOWBALL.stemWord(word)


def terms(text: str) -> list[str]:
    """The terms of a text: content words and adjacent-word pairs.

    A pair never spans a stop word or punctuation other than a hyphen, so
    "models, and diffusion" gives no pair "model diffusion".
    """
    out: list[str] = []
    for chunk in re.split(r"[.,;:!?()\[\]{}\"]+", text.lower()):
        prev = None
        for raw in _WORD.findall(chunk):
            if raw in STOP or len(raw) < 2 or raw.isdigit():
                prev = None
                continue
            word = stem(raw)
            out.append(word)
            if prev is not None:
                out.append(f"{prev} {word}")
            prev = word
    return out


def paper_text(title: str, abstract: str) -> str:
    """What a paper's vector is made of: the title twice, then the abstract."""
    return f"{title}. {title}. {abstract}"


class Vectorizer:
    """Vocabulary and IDF weights learnt from one corpus (the papers being ranked)."""

    def __init__(self, docs: Sequence[Sequence[str]]) -> None:
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        self.vocab = {t: i for i, t in enumerate(sorted(df))}
        n = len(docs)
        idf = np.zeros(len(self.vocab), dtype=np.float32)
        for t, i in self.vocab.items():
            idf[i] = math.log((1 + n) / (1 + df[t])) + 1.0
        self.idf = idf

    @property
    def size(self) -> int:
        return len(self.vocab)

    def sparse(self, doc: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """(term indices, weights) of a unit-length TF-IDF vector; terms not in
        the vocabulary are dropped (no paper has them, so they cannot match)."""
        counts = Counter(t for t in doc if t in self.vocab)
        if not counts:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        idx = np.fromiter((self.vocab[t] for t in counts), dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        w = (1.0 + np.log(tf)) * self.idf[idx]
        norm = float(np.sqrt((w * w).sum()))
        return idx, (w / norm if norm else w)

    def dense(self, doc: Iterable[str]) -> np.ndarray:
        vec = np.zeros(self.size, dtype=np.float32)
        idx, w = self.sparse(doc)
        vec[idx] = w
        return vec


class Matrix:
    """Unit-length TF-IDF rows of a corpus as CSR arrays (numpy only).

    `scores(q)` is the product with a dense query vector: one gather, one
    multiply and one segmented sum over the non-zeros, however many rows.
    """

    def __init__(self, vectorizer: Vectorizer, docs: Sequence[Sequence[str]]) -> None:
        self.vectorizer = vectorizer
        rows = [vectorizer.sparse(d) for d in docs]
        lengths = np.array([len(i) for i, _ in rows], dtype=np.int64)
        self.indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.indices = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, dtype=np.int32)
        self.data = np.concatenate([w for _, w in rows]) if rows else np.zeros(0, np.float32)
        self.n = len(rows)
        self._nonempty = lengths > 0

    def row(self, i: int) -> np.ndarray:
        """Row `i` as a dense vector."""
        vec = np.zeros(self.vectorizer.size, dtype=np.float32)
        lo, hi = self.indptr[i], self.indptr[i + 1]
        vec[self.indices[lo:hi]] = self.data[lo:hi]
        return vec

    def mean(self, rows: Sequence[int]) -> np.ndarray:
        """The mean of some rows, as a dense vector."""
        vec = np.zeros(self.vectorizer.size, dtype=np.float32)
        for i in rows:
            lo, hi = self.indptr[i], self.indptr[i + 1]
            vec[self.indices[lo:hi]] += self.data[lo:hi]  # a row has each term once
        return vec / max(len(rows), 1)

    def block(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Some rows as a small dense matrix over only the columns they use, and
        those columns: products between a few papers stay small."""
        spans = [(self.indptr[i], self.indptr[i + 1]) for i in rows]
        used = [self.indices[lo:hi] for lo, hi in spans]
        cols = np.unique(np.concatenate(used)) if used else np.zeros(0, np.int32)
        out = np.zeros((len(rows), len(cols)), dtype=np.float32)
        for k, (lo, hi) in enumerate(spans):
            out[k, np.searchsorted(cols, self.indices[lo:hi])] = self.data[lo:hi]
        return out, cols

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Every row's dot product with the dense vector `q`."""
        out = np.zeros(self.n, dtype=np.float32)
        if not len(self.data):
            return out
        products = self.data * q[self.indices]
        starts = self.indptr[:-1][self._nonempty]
        out[self._nonempty] = np.add.reduceat(products, starts)
        return out

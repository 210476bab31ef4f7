"""The offline backend: extractive TL;DR and summary plus keyword tagging.

It is the default because it needs no network, key or model, and it is
deterministic: the same paper always gets the same summary, so digests are
reproducible and tests exact. Quality comes from cue-word rules (which
sentence states the contribution, in `offline_text.py`) and per-tag keyword
tables (both kinds of rule in `offline_rules.py`); it aims at "good enough to
skim", not at an LLM.

Everything costly (regexes, phrase tables) is built once, at import or in
the constructor, so a paper costs a few regex scans and dictionary lookups.
The numeric knobs below were set on one half of the labelled dev set and
checked on the other (bench/quality.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from digest.backends import offline_rules as rules
from digest.backends.base import OneAtATime
from digest.backends.offline_text import (  # noqa: F401 (re-exported)
    MAX_CHARS,
    MAX_TLDR_WORDS,
    choose_tldr,
    make_summary,
    make_tldr,
    sentence_scores,
    split_sentences,
    word_tokens,
)
from digest.models import MAX_TAGS, OFFLINE, Paper, Summary
from digest.resources import default_vocabulary

WEIGHTS = {3: 4.0, 2: 2.0, 1: 1.0}  # keyword strength -> score
TITLE_FACTOR = 2.0  # a keyword in the title says more than one in the abstract
MIN_SCORE = 6.0  # a tag after the first needs this much evidence ...
RELATIVE_SCORE = 0.35  # ... and this fraction of the best tag's score

Phrases = dict[tuple[str, ...], dict[int, int]]  # phrase tokens -> {tag index: strength}

# --- tagging -------------------------------------------------------------------


def _index(groups: Iterable[dict[int, list[str]]]) -> tuple[Phrases, dict[str, int]]:
    """Index each tag's phrases by token tuple (strongest wins), and each first
    word by the longest phrase it starts, so scanning skips other words fast."""
    table: Phrases = {}
    for tag_index, by_strength in enumerate(groups):
        for strength, phrases in by_strength.items():
            for key in filter(None, (tuple(word_tokens(phrase)) for phrase in phrases)):
                slot = table.setdefault(key, {})
                slot[tag_index] = max(slot.get(tag_index, 0), strength)
    reach: dict[str, int] = {}
    for key in table:
        reach[key[0]] = max(reach.get(key[0], 0), len(key))
    return table, reach


def _evidence(tokens: list[str], table: Phrases, reach: dict[str, int]) -> dict[tuple, int]:
    """Count keyword phrases, leftmost-longest: "latent code" hides "code"."""
    found: dict[tuple, int] = {}
    n, done = len(tokens), 0
    for i in [i for i, token in enumerate(tokens) if token in reach]:
        if i < done:
            continue  # inside a phrase already counted
        for size in range(min(reach[tokens[i]], n - i), 0, -1):
            key = tuple(tokens[i : i + size])
            if key in table:
                found[key] = found.get(key, 0) + 1
                done = i + size
                break
    return found


class OfflineBackend(OneAtATime):
    """Deterministic extractive summariser and keyword tagger (no network)."""

    name = OFFLINE
    model = "extractive-v1"
    prompt_version = "offline-rules-3"  # 3: no cut TL;DRs, no filler tag

    def __init__(self, vocabulary: Mapping[str, str]) -> None:
        self.vocabulary = tuple(vocabulary)
        self.tag_descriptions = vocabulary
        defaults = default_vocabulary()
        derived = [rules.derived_phrases(tag, str(text or "")) for tag, text in vocabulary.items()]
        curated = []
        for tag, own in zip(self.vocabulary, derived, strict=True):
            table = {w: s.split(", ") for w, s in rules.KEYWORDS.get(tag, {}).items()}
            if vocabulary[tag] != defaults.get(tag):  # the user's own words count too
                for strength, phrases in own.items():
                    table[strength] = table.get(strength, []) + phrases
            curated.append(table)
        # The curated table decides; the derived one only speaks when it says nothing.
        self._tables = (_index(curated), _index(derived))

    def tag_scores(self, title: str, abstract_tokens: list[str], table: int = 0) -> list[float]:
        """One score per vocabulary tag; title hits count more than abstract hits."""
        phrases, reach = self._tables[table]
        scores = [0.0] * len(self.vocabulary)
        for key in _evidence(word_tokens(title), phrases, reach):
            for tag, strength in phrases[key].items():
                scores[tag] += TITLE_FACTOR * WEIGHTS[strength]
        for key, count in _evidence(abstract_tokens, phrases, reach).items():
            for tag, strength in phrases[key].items():
                scores[tag] += WEIGHTS[strength] * (1.0 + 0.5 * (min(count, 4) - 1))
        return scores

    def tags(self, title: str, abstract: str | list[str]) -> tuple[str, ...]:
        """0 to 5 vocabulary tags, best first.

        When no keyword matches, the words of the tags' meanings decide; when
        those do not match either the paper gets no tag (shown as untagged):
        a made-up tag would send it to readers who asked for something else.
        """
        if not self.vocabulary:
            return ()
        tokens = word_tokens(abstract) if isinstance(abstract, str) else abstract
        scores = self.tag_scores(title, tokens)
        if not any(scores):
            scores = self.tag_scores(title, tokens, table=1)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        floor = max(MIN_SCORE, RELATIVE_SCORE * scores[order[0]])
        # The best tag needs only some evidence; the others need enough of it.
        keep = [i for i in order if scores[i] > 0 and (i == order[0] or scores[i] >= floor)]
        return tuple(self.vocabulary[i] for i in keep[:MAX_TAGS])

    def summarize(self, paper: Paper) -> Summary:
        """Summarise one paper; never raises on odd text, it is only text."""
        title, abstract = paper.title or "", paper.abstract or ""
        sentences = split_sentences(abstract)
        tokens = [word_tokens(s) for s in sentences]
        scores = sentence_scores(sentences, title, tokens)
        tldr, used = choose_tldr(title, sentences, scores)
        return Summary(
            tldr=tldr,
            summary=make_summary(sentences, title, scores, used),
            tags=self.tags(title, [t for sentence in tokens for t in sentence]),
            backend=self.name,
            model=self.model,
            prompt_version=self.prompt_version,
        )

    def stand_in(self, paper: Paper, *, failed: str, reason: str) -> Summary:
        """The summary shown while `failed` ("backend:model") could not write one:
        this backend's, marked as a fallback with the reason, so readers are told
        and the next run asks the model again."""
        return replace(self.summarize(paper), fallback_from=failed, error=reason)

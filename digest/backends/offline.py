"""The offline backend: extractive TL;DR and summary plus keyword tagging.

It is the default because it needs no network, key or model, and it is
deterministic: the same paper always gets the same summary, so digests are
reproducible and tests exact. Quality comes from cue-word rules (which
sentence states the contribution) and per-tag keyword tables, both in
`offline_rules.py`; it aims at "good enough to skim", not at an LLM.

Everything costly (regexes, phrase tables) is built once, at import or in
the constructor, so a paper costs a few regex scans and dictionary lookups.
The numeric knobs below were set on one half of the labelled dev set and
checked on the other (bench/quality.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from digest.backends import offline_rules as rules
from digest.models import Paper, Summary
from digest.resources import default_vocabulary

MAX_TLDR_WORDS = 35
MAX_TAGS = 5
MAX_CHARS = 20_000  # a longer "abstract" is not one: read its head only, stay fast
SUMMARY_SENTENCE_WORDS = 80  # a longer summary sentence is cut
WEIGHTS = {3: 4.0, 2: 2.0, 1: 1.0}  # keyword strength -> score
TITLE_FACTOR = 2.0  # a keyword in the title says more than one in the abstract
MIN_SCORE = 6.0  # a tag after the first needs this much evidence ...
RELATIVE_SCORE = 0.35  # ... and this fraction of the best tag's score
CUE_SCORES = {"make": 3.0, "study": 2.0, "find": 1.5, "background": -2.0, "boilerplate": -3.0}
TITLE_OVERLAP = 2.0  # bonus for a sentence holding all the title's words
JOIN_BELOW = 30  # a TL;DR sentence shorter than this gets a second clause

Phrases = dict[tuple[str, ...], dict[int, int]]  # phrase tokens -> {tag index: strength}

# --- sentences ---------------------------------------------------------------

_SPACE = re.compile(r"\s+")
# End punctuation, closing quotes/brackets, a space, then a sentence start.
# Decimals ("3.5") have no space after the dot, so they never match.
# A sentence starts with a capital, a digit, or a mixed-case name ("cMIM", "iPhone").
_BOUNDARY = re.compile(
    r"[.!?…。！？]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?(?:[A-Z0-9\u00C0-\u024F]|[a-z]+[A-Z]))"
)
# What dropping "(1)" from "abilities: (1). there" leaves behind.
_STRAY_STOP = re.compile(r"([:;,])\.(?=\s|$)")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?$")  # "e.g", "U.S", "i.e."


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences without breaking at "e.g.", "et al.", "3.5".

    Abstracts are regular enough that "end punctuation, space, capital,
    unless after a known abbreviation" beats pulling in a tokenizer.
    """
    text = _SPACE.sub(" ", text[:MAX_CHARS]).strip()
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = text[start : match.start()].rsplit(" ", 1)[-1]
        abbreviation = before.lower().rstrip(".") in rules.ABBREVIATIONS or _DOTTED.match(before)
        if match.group().startswith(".") and abbreviation:
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


# --- choosing and rewriting the TL;DR ------------------------------------------

_WORD = re.compile(r"[A-Za-z]+")
_OUR = re.compile(r"\bour (?=\w)")


def _verb_after(text: str, pos: int) -> tuple[str, int] | None:
    """The cue verb right after a subject ("we [also] propose"): base form and end offset."""
    for match in _WORD.finditer(text, pos, pos + 60):
        word = match.group().lower()
        base = rules.base_form(word)
        if base:
            return base, match.end()
        if word not in rules.ADVERBS and not word.endswith("ly"):
            return None
    return None


def _cues(sentence: str) -> set[str]:
    """Which kinds of statement a sentence makes (keys of CUE_SCORES)."""
    kinds = set()
    for match in rules.SUBJECT.finditer(sentence):
        found = _verb_after(sentence, match.end())
        if found:
            base = found[0]
            kinds.add("make" if base in rules.MAKE else "study" if base in rules.STUDY else "find")
    low = sentence.lower()
    if any(w in low for w in rules.EVIDENCE_WORDS) and rules.EVIDENCE.search(low):
        kinds.add("find")
    if rules.BACKGROUND_START.match(low) or (
        ("has " in low or "have " in low or "remain" in low) and rules.BACKGROUND.search(low)
    ):
        kinds.add("background")
    if ("?" in low or "://" in low or "available" in low or "github" in low) and (
        rules.BOILERPLATE.search(low)
    ):
        kinds.add("boilerplate")
    return kinds


def _sentence_scores(sentences: list[str], title: str, tokens: list[list[str]]) -> list[float]:
    """Higher for sentences that say what the paper does or finds, in the title's words."""
    title_words = frozenset(_tokens(title)) - rules.STOPWORDS
    scores = []
    for index, sentence in enumerate(sentences):
        kinds = _cues(sentence)
        score = sum(value for kind, value in CUE_SCORES.items() if kind in kinds)
        if title_words:
            shared = title_words.intersection(tokens[index])
            score += TITLE_OVERLAP * len(shared) / len(title_words)
        score -= 2.0 if sentence.count(" ") < 5 else 0.0
        scores.append(score - 0.1 * index - (0.5 if index == 0 else 0.0))
    return scores


def _trim(text: str, limit: int) -> str:
    """Cut `text` to `limit` words, at a clause boundary when one is late enough."""
    words = text.split(" ")
    if len(words) <= limit:
        if len(text) <= limit * 15:
            return text
        return text[: limit * 15].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"  # a glued blob
    head = " ".join(words[:limit])
    cuts = [
        m.start()
        for m in rules.CLAUSE.finditer(head)
        if m.start() >= len(head) * 0.5
        and head[: m.start()].rsplit(" ", 1)[-1].lower() not in rules.DANGLING
    ]
    if cuts:
        return head[: cuts[-1]].rstrip(" ,;:") + "."
    kept = words[:limit]
    while len(kept) > 1 and kept[-1].lower().strip(",;:") in rules.DANGLING:
        kept.pop()  # "… component16 and…" reads worse than "… component16…"
    return " ".join(kept).rstrip(" ,;:.") + "…"


def _rewrite(sentence: str, first: bool = True) -> tuple[str, bool]:
    """Turn "In this paper, we propose X and show Y." into "Proposes X and shows Y."

    Labels read like that and it is shorter. Also drops connectives
    ("Moreover, "), puffery ("novel") and short parentheticals ("(LSM)").
    Returns the text and whether it now starts with a verb.
    """
    sentence = rules.CONNECTIVE.sub("", sentence)
    doer = rules.LEAD_SUBJECT.search(sentence, 0, 160)
    at = doer.start() if doer else -1  # the subject must open the sentence or its 2nd clause
    lead = at == 0 or (at > 2 and sentence[at - 2 : at] == ", " and "," not in sentence[: at - 2])
    found = _verb_after(sentence, doer.end()) if doer and lead else None
    verb_first = bool(found and len(sentence) - found[1] > 20)
    if found and verb_first:
        base, tail = found[0], sentence[found[1] :].lstrip()
        tail = rules.IN_THIS.sub("", tail)  # "show in this paper that X" -> "X"
        by = rules.BY_DOING.match(base + " " + tail)
        if by and rules.base_form(by.group(1)):
            base, tail = rules.base_form(by.group(1)) or base, (base + " " + tail)[by.end() :]
        verb = rules.third_person(base)
        sentence = (verb.capitalize() if first else verb) + " " + tail.lstrip()
        sentence = rules.AND_VERB.sub(rules.conjugate_and, sentence)
    elif not first:
        sentence = rules.RESULTS.sub("", sentence)
        if sentence[:1].isupper() and sentence[1:2].islower():
            sentence = sentence[:1].lower() + sentence[1:]
    sentence = rules.CALLED.sub("", rules.PAREN.sub("", sentence))
    sentence = _STRAY_STOP.sub(r"\1", sentence)
    sentence = _OUR.sub("its ", rules.FILLER.sub(rules.unfill, sentence))
    return (sentence[:1].upper() + sentence[1:] if first else sentence), verb_first


def make_tldr(title: str, sentences: list[str], scores: list[float]) -> str:
    """One sentence of at most MAX_TLDR_WORDS words: the contribution, else the title.

    A short contribution sentence is joined with the best later one
    ("Proposes X and shows Y"): a TL;DR should say what a paper does and finds.
    """
    if not sentences:
        text = _SPACE.sub(" ", title[:MAX_CHARS]).strip() or "No abstract available"
        text = _trim(text, MAX_TLDR_WORDS)
        return text if text[-1] in ".!?…" else text + "."
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    tldr = _trim(_rewrite(sentences[best])[0], MAX_TLDR_WORDS).rstrip(" .")
    room = MAX_TLDR_WORDS - len(tldr.split()) - 1  # one word for " and "
    later = range(best + 1, len(sentences))
    if later and room >= 6 and tldr[-1:] not in "?!…" and len(tldr.split()) < JOIN_BELOW:
        extra, verb_first = _rewrite(sentences[max(later, key=lambda i: (scores[i], -i))], False)
        extra = _trim(extra, room).rstrip(" .")
        if len(extra.split()) >= 6:
            tldr += (" and " if verb_first else "; ") + extra
    tldr = tldr or "No abstract available"
    return tldr if tldr[-1] in ".!?…" else tldr + "."


def make_summary(sentences: list[str], title: str, scores: list[float]) -> str:
    """Two or three sentences in abstract order: the context, the contribution, a result."""
    if not sentences:
        return make_tldr(title, [], [])
    if len(sentences) <= 3:
        chosen = list(range(len(sentences)))
    else:
        ranked = sorted(range(1, len(sentences)), key=lambda i: (-scores[i], i))
        chosen = sorted({0, *ranked[:2]} if len(sentences[0].split()) <= 40 else set(ranked[:3]))
    return " ".join(_trim(sentences[i], SUMMARY_SENTENCE_WORDS) for i in chosen)


# --- tagging -------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    """Normalised lowercase word tokens: what keyword tables and text are matched in."""
    return list(map(rules.normalize, rules.TOKEN.findall(text[:MAX_CHARS].lower())))


def _index(groups: Iterable[dict[int, list[str]]]) -> tuple[Phrases, dict[str, int]]:
    """Index each tag's phrases by token tuple (strongest wins), and each first
    word by the longest phrase it starts, so scanning skips other words fast."""
    table: Phrases = {}
    for tag_index, by_strength in enumerate(groups):
        for strength, phrases in by_strength.items():
            for key in filter(None, (tuple(_tokens(phrase)) for phrase in phrases)):
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


class OfflineBackend:
    """Deterministic extractive summariser and keyword tagger (no network)."""

    name = "offline"
    model = "extractive-v1"
    prompt_version = "offline-rules-2"

    def __init__(self, vocabulary: Mapping[str, str]) -> None:
        self.vocabulary = tuple(vocabulary)
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
        for key in _evidence(_tokens(title), phrases, reach):
            for tag, strength in phrases[key].items():
                scores[tag] += TITLE_FACTOR * WEIGHTS[strength]
        for key, count in _evidence(abstract_tokens, phrases, reach).items():
            for tag, strength in phrases[key].items():
                scores[tag] += WEIGHTS[strength] * (1.0 + 0.5 * (min(count, 4) - 1))
        return scores

    def tags(self, title: str, abstract: str | list[str]) -> tuple[str, ...]:
        """1 to 5 vocabulary tags, best first; never empty for a non-empty vocabulary.

        When no keyword matches, the words of the tags' meanings decide; when
        those do not match either, the vocabulary's first tag is given.
        """
        if not self.vocabulary:
            return ()
        tokens = _tokens(abstract) if isinstance(abstract, str) else abstract
        scores = self.tag_scores(title, tokens)
        if not any(scores):
            scores = self.tag_scores(title, tokens, table=1)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        floor = max(MIN_SCORE, RELATIVE_SCORE * scores[order[0]])
        keep = [i for i in order if scores[i] > 0 and scores[i] >= floor]
        return tuple(self.vocabulary[i] for i in (keep or order[:1])[:MAX_TAGS])

    def summarize(self, paper: Paper) -> Summary:
        """Summarise one paper; never raises on odd text, it is only text."""
        title, abstract = paper.title or "", paper.abstract or ""
        sentences = split_sentences(abstract)
        tokens = [_tokens(s) for s in sentences]
        scores = _sentence_scores(sentences, title, tokens)
        return Summary(
            tldr=make_tldr(title, sentences, scores),
            summary=make_summary(sentences, title, scores),
            tags=self.tags(title, [t for sentence in tokens for t in sentence]),
            backend=self.name,
            model=self.model,
            prompt_version=self.prompt_version,
        )

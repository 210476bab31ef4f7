"""The offline backend's text side: sentences, the TL;DR and the summary.

Extractive and deterministic (see offline.py for why). The TL;DR is the
sentence that says what the paper does or finds, rewritten in label style
("Proposes X and shows Y"); a sentence that is too long is shortened only at
a clause boundary, never cut mid-clause, else another sentence (or the
title) is used. The summary is up to three *other* sentences: the reader
has just read the TL;DR's.

The numeric knobs were set on one half of the labelled dev set and checked
on the other (bench/quality.py).
"""

from __future__ import annotations

import re

from digest.backends import offline_rules as rules
from digest.models import MAX_TLDR_WORDS

MAX_CHARS = 20_000  # a longer "abstract" is not one: read its head only, stay fast
SUMMARY_SENTENCE_WORDS = 80  # a longer summary sentence is cut
CUE_SCORES = {"make": 3.0, "study": 2.0, "find": 1.5, "background": -2.0, "boilerplate": -3.0}
TITLE_OVERLAP = 2.0  # bonus for a sentence holding all the title's words
JOIN_BELOW = 30  # a TL;DR sentence shorter than this gets a second clause
JOIN_MIN = 6  # ... of at least this many words
JOIN_CANDIDATES = 2  # later sentences tried for it, best first
TLDR_CANDIDATES = 3  # sentences tried, best first, before the title stands in
MIN_CLAUSE_WORDS = 8  # a TL;DR cut at a clause boundary keeps at least this many words

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


def sentence_scores(sentences: list[str], title: str, tokens: list[list[str]]) -> list[float]:
    """Higher for sentences that say what the paper does or finds, in the title's words."""
    title_words = frozenset(word_tokens(title)) - rules.STOPWORDS
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
    """Cut a summary sentence to `limit` words, at a clause boundary when one is late enough."""
    short = _shorten(text, limit, min_share=0.5)
    if short is not None:
        return short
    if len(text.split(" ")) <= limit:  # a glued blob of characters, not a sentence
        return text[: limit * 15].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"
    kept = text.split(" ")[:limit]
    while len(kept) > 1 and kept[-1].lower().strip(",;:") in rules.DANGLING:
        kept.pop()  # "… component16 and…" reads worse than "… component16…"
    return " ".join(kept).rstrip(" ,;:.") + "…"


def _shorten(
    text: str,
    limit: int,
    *,
    min_share: float = 0.0,
    phrases: bool = False,
    min_words: int = MIN_CLAUSE_WORDS,
) -> str | None:
    """`text` if it has at most `limit` words, else its head up to the last clause
    boundary within them (at least `min_words` words and `min_share` of the
    head long, never ending on "of", "the", ...); None when there is no such cut.

    A TL;DR is never cut mid-clause: a sentence without a usable boundary is
    passed over for another one. With `phrases`, an adjunct phrase
    (rules.ADJUNCT) may be dropped too.
    """
    words = text.split(" ")
    if len(words) <= limit:
        return text if len(text) <= limit * 15 else None
    head = " ".join(words[:limit])
    cuts = list(rules.CLAUSE.finditer(head))
    if phrases:  # then an adjunct ("... by up to 25%", "... using X"), dropped whole
        cuts = [*rules.ADJUNCT.finditer(head), *cuts]
    for match in reversed(sorted(cuts, key=lambda m: m.start())):
        kept = head[: match.start()]
        if (
            len(kept) >= len(head) * min_share
            and len(kept.split()) >= min_words
            and kept.rsplit(" ", 1)[-1].lower() not in rules.DANGLING
            and _balanced(kept)
        ):
            return kept.rstrip(" ,;:") + "."
    return None


def _balanced(text: str) -> bool:
    """No bracket left open: "X (trained on A, B" is cut mid-clause."""
    return text.count("(") <= text.count(")") and text.count("[") <= text.count("]")


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
    """The TL;DR; see `choose_tldr`."""
    return choose_tldr(title, sentences, scores)[0]


def choose_tldr(
    title: str, sentences: list[str], scores: list[float]
) -> tuple[str, frozenset[int]]:
    """One sentence of at most MAX_TLDR_WORDS words, and the abstract sentences it uses.

    The contribution sentence, shortened only at a clause boundary; when it
    has none, the next best sentence (of the TL;DR_CANDIDATES best); else the
    title. A short contribution sentence is joined with the best later one
    ("Proposes X and shows Y"): a TL;DR should say what a paper does and finds.
    """
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    for best in ranked[:TLDR_CANDIDATES]:
        tldr = _shorten(_rewrite(sentences[best])[0], MAX_TLDR_WORDS, phrases=True) or ""
        if tldr.rstrip(" ."):
            return _join(tldr.rstrip(" ."), best, sentences, scores)
    text = _SPACE.sub(" ", title[:MAX_CHARS]).strip().rstrip(" .")
    text = _shorten(text, MAX_TLDR_WORDS) or text.split(":")[0].strip()
    return _sentence(text or "No abstract available"), frozenset()


def _join(
    tldr: str, best: int, sentences: list[str], scores: list[float]
) -> tuple[str, frozenset[int]]:
    """Add the best later sentence to a short TL;DR when it fits whole or to a clause."""
    used = {best}
    room = MAX_TLDR_WORDS - len(tldr.split()) - 1  # one word for " and "
    later = range(best + 1, len(sentences))
    if later and room >= JOIN_MIN and tldr[-1:] not in "?!" and len(tldr.split()) < JOIN_BELOW:
        for pick in sorted(later, key=lambda i: (-scores[i], i))[:JOIN_CANDIDATES]:
            extra, verb_first = _rewrite(sentences[pick], False)
            extra = (_shorten(extra, room, phrases=True, min_words=JOIN_MIN) or "").rstrip(" .")
            if len(extra.split()) >= JOIN_MIN:
                tldr += (" and " if verb_first else "; ") + extra
                used.add(pick)
                break
    return _sentence(tldr), frozenset(used)


def _sentence(text: str) -> str:
    return text if text[-1] in ".!?" else text + "."


def make_summary(
    sentences: list[str], title: str, scores: list[float], used: frozenset[int] = frozenset()
) -> str:
    """Two or three sentences in abstract order: the context, the contribution, a result.

    The sentences the TL;DR was made from (`used`) are left out: the reader
    has just read them. An abstract with nothing else to say gets no summary.
    """
    if not sentences:
        return "" if not used and title else make_tldr(title, [], [])
    rest = [i for i in range(len(sentences)) if i not in used]
    if len(rest) <= 3:
        chosen = rest
    else:
        first = rest[0]
        ranked = sorted(rest[1:], key=lambda i: (-scores[i], i))
        lead = len(sentences[first].split()) <= 40
        chosen = sorted({first, *ranked[:2]} if lead else set(ranked[:3]))
    return " ".join(_trim(sentences[i], SUMMARY_SENTENCE_WORDS) for i in chosen)


def word_tokens(text: str) -> list[str]:
    """Normalised lowercase word tokens: what keyword tables and text are matched in."""
    return list(map(rules.normalize, rules.TOKEN.findall(text[:MAX_CHARS].lower())))

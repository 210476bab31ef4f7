"""Checks on what a model wrote, beyond its shape: what a real small model gets wrong.

A schema (or llama.cpp's grammar) guarantees well-formed JSON with tags from
the vocabulary; it does not stop a 135M model from writing a TL;DR that only
repeats the title, "InP, InP, InP, …", `<pre>` markup, the prompt's own rules
("one sentence of at most 30 words"), or a summary that is the TL;DR again.
Each is an invalid reply with its reason: repaired once, then an offline
fallback labelled as such (see openai.py). Nothing here is tuned to a paper:
the rules are about the text's form, so a good model never trips them.
"""

from __future__ import annotations

import re
from collections import Counter

from digest.backends.llm_reply import Reply, ReplyError

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
# Words that say nothing about *what* a paper does: "We propose X" restates "X".
_FILLER = frozenset(
    re.findall(
        r"\S+",
        """
    a an the this that these those we our it its is are be been was were of in on for to
    and or with by from as at via into using use uses used based paper papers work study
    studies propose proposes proposed present presents presented introduce introduces
    introduced new novel method methods approach approaches framework model models titled
    called named which who how what towards toward
    """,
    )
)
# Markup the reply validator lets through (it rejects links and page-changing HTML):
# preformatted or code elements, the prompt's own fences, Markdown emphasis/headings.
_MARKUP = re.compile(
    r"<\s*/?\s*(?:pre|code|tt|kbd|samp|blockquote|hr|th|td|tr|sup|sub|title|abstract)\b[^>]*>"
    r"|\*\*\S|\S\*\*|__\w|^#{1,6}\s|\s#{2,6}\s",
    re.IGNORECASE,
)
_ECHO_WORDS = 5  # a run of this many words from the instructions is an echo
_REPEATS = 3  # the same word or phrase this many times running is a loop


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _stem(word: str) -> str:
    """Enough stemming to match "models"/"model" and "learning"/"learn"."""
    for suffix in ("ing", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _content(text: str) -> list[str]:
    return [_stem(w) for w in words(text) if w not in _FILLER]


def restates_title(tldr: str, title: str) -> bool:
    """A TL;DR that adds at most one word of substance to the title."""
    if not title.strip():
        return False
    in_title = set(_content(title))
    new = [w for w in _content(tldr) if w not in in_title]
    return len(set(new)) <= 1


def loops(text: str) -> str | None:
    """A word or phrase (1-4 words) repeated _REPEATS times running, or a sentence
    said twice: what a model stuck in a loop writes. Returns the repeated part."""
    tokens = words(text)
    for size in range(1, 5):
        for start in range(len(tokens) - size * _REPEATS + 1):
            part = tokens[start : start + size]
            if all(
                tokens[start + k * size : start + (k + 1) * size] == part for k in range(_REPEATS)
            ):
                return " ".join(part)
    sentences = [" ".join(words(s)) for s in re.split(r"(?<=[.!?])\s+", text)]
    seen = Counter(s for s in sentences if len(s.split()) >= 3)
    repeated = [s for s, n in seen.items() if n > 1]
    return repeated[0] if repeated else None


def echoes(text: str, instructions: str) -> str | None:
    """A run of _ECHO_WORDS words taken from the instructions, if any."""
    said = words(text)
    grams = {tuple(said[i : i + _ECHO_WORDS]) for i in range(len(said) - _ECHO_WORDS + 1)}
    rules = words(instructions)
    for i in range(len(rules) - _ECHO_WORDS + 1):
        gram = tuple(rules[i : i + _ECHO_WORDS])
        if gram in grams:
            return " ".join(gram)
    return None


def repeats_tldr(summary: str, tldr: str) -> bool:
    """A summary that contains the TL;DR again, or a sentence that is mostly it."""
    told = _content(tldr)
    if len(told) < 3:
        return False
    if " ".join(words(tldr)) in " ".join(words(summary)):
        return True
    told_set = set(told)
    for sentence in re.split(r"(?<=[.!?])\s+", summary):
        said = set(_content(sentence))
        if said and len(said & told_set) / len(told_set | said) >= 0.8:
            return True
    return False


def check_reply(reply: Reply, *, title: str, instructions: str) -> None:
    """Raise ReplyError (the reason goes back to the model in the repair) if the
    reply restates the title, loops, carries markup, echoes the instructions, or
    repeats its TL;DR in the summary."""
    for key, text in (("tldr", reply.tldr), ("summary", reply.summary)):
        if _MARKUP.search(text):
            raise ReplyError(f'"{key}" contains markup; write plain text')
        repeated = loops(text)
        if repeated:
            shown = repeated if len(repeated) <= 60 else repeated[:60] + "…"
            raise ReplyError(f'"{key}" repeats itself ("{shown}" again and again)')
        echo = echoes(text, instructions)
        if echo:
            raise ReplyError(f'"{key}" repeats the instructions ("{echo}"); write about the paper')
    if restates_title(reply.tldr, title):
        raise ReplyError("the tldr only restates the title; say what the paper does and finds")
    if repeats_tldr(reply.summary, reply.tldr):
        raise ReplyError("the summary repeats the tldr; add the problem, method and result")

"""What a line of a trending-papers dump is: page furniture, a title, an abstract,
or an abstract's first line wrapped onto the next; and files that are another
format altogether. `dumps.py` reads the lines; the rules for them live here.
"""

from __future__ import annotations

import re
from pathlib import Path

from digest.errors import DumpError

# Page furniture. The long lines cannot be titles and are skipped anywhere; the
# short ones could be (a paper called "New"), so they are skipped only in the
# page header, before the first entry.
BANNERS = {
    "get trending papers in your email inbox once a day!",
    "get trending papers in your email inbox!",
    "byak and the research community",
}
HEADER = {"subscribe", "new", "daily papers"}
# "SubscribeHow Post-Training..." (the page's button glued to a title; dumps pasted one
# after another repeat it mid-file), but not "Subscriber Churn Prediction".
GLUED = re.compile(r"^Subscribe(?=[A-Z0-9\[(\"'“])")
DATE = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(, \d{4})?$",
    re.IGNORECASE,
)
_LINK_END = re.compile(r"https?://\S+$")
_BREAK = re.compile(r"[a-z0-9)]{2,}[.!?] +[A-Z]")
# A full stop after a real word, then a capital: prose. ("vs. BERT" and "Why? A study" are titles.)
# Exactly four letters before the stop find the same places as "four or more" in
# linear time (the open-ended form retried every lowercase run from each letter).
_PROSE = re.compile(r"[a-z]{4}\. +[A-Z]")
_JSON = re.compile(r'^(\{|\[\s*($|[\[{"\d-]|true|false|null))')


def reject_other_formats(path: Path, text: str) -> None:
    if _JSON.match(text):
        raise DumpError(f"{path}: looks like JSON, not a trending-papers text dump")
    if text.startswith("<") and re.match(r"<(!doctype|html|\?xml|feed|rss)", text, re.I):
        raise DumpError(f"{path}: looks like HTML/XML, not a trending-papers text dump")


def looks_like_title(text: str) -> bool:
    """Titles are short and not prose; one full stop happens ("X is not all you need. A ...")."""
    return len(text) <= 400 and (". " not in text or len(_PROSE.findall(text)) < 2)


def looks_like_abstract(text: str) -> bool:
    """An abstract is prose: long, or several sentences, or ending like a sentence.

    A short unpunctuated line after a title is the next title: the previous
    title lost its abstract.
    """
    return len(text) >= 200 or bool(_BREAK.search(text)) or _stops(text)


def surely_abstract(text: str) -> bool:
    """Long, or several sentences ending like one: no title looks like this
    ("Why do small models underperform? Studying ..." has a break, but no end)."""
    return len(text) >= 200 or bool(_BREAK.search(text) and ends_sentence(text))


def wrapped(text: str, following: str | None) -> bool:
    """A short first line of an abstract cut mid-sentence: the next line goes on
    in lowercase."""
    return (
        following is not None
        and following[:1].islower()
        and not ends_sentence(text)
        and not furniture(text)
    )


def question_title(text: str, following: str | None) -> bool:
    """A title asking a question, with its abstract on the next line: the title
    before it lost its abstract ("Why do small models underperform?" ends like
    a sentence, but no abstract is a lone question followed by prose)."""
    return (
        text.endswith("?")
        and looks_like_title(text)
        and not surely_abstract(text)
        and following is not None
        and surely_abstract(following)
    )


def ends_sentence(text: str) -> bool:
    """A sentence end, or a link (abstracts often end with their code's address).

    The same answer as searching `[.!?]\\s*$` and _LINK_END, without their scan
    of every position of a long abstract: rstrip() drops what `\\s*$` skips,
    and no link ends a line that holds no "://".
    """
    return _stops(text) or ("://" in text and _ends_with_link(text))


def _ends_with_link(text: str) -> bool:
    """_LINK_END searched in the last word only, where any match must lie."""
    body = text[:-1] if text.endswith("\n") else text  # `$` matches before it too
    if not body or body[-1].isspace():
        return False
    return bool(_LINK_END.search(body.rsplit(None, 1)[-1]))


def _stops(text: str) -> bool:
    """A stop, then nothing but white space: what `[.!?]\\s*$` finds."""
    last = text.rstrip()[-1:]
    return bool(last) and last in ".!?"


def furniture(text: str) -> bool:
    return bool(text.casefold() in BANNERS or DATE.match(text) or GLUED.match(text))

"""Text dumps of the Hugging Face trending-papers page.

Two layouts occur in the wild:

* compact: two banner lines, then "Subscribe" glued to the first title, then
  title / abstract lines alternating;
* spaced: blank lines between lines, banner lines ("new", "Daily Papers",
  "byAK and the research community") and date lines ("Sep 9") that date the
  entries below them.

The parser streams: it reads one bounded line at a time, so a huge file or
a huge line costs neither memory nor time, and it raises `DumpError` naming
the file for anything that is not a dump.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from digest.errors import DumpError
from digest.models import Entry, Paper

MAX_LINE = 65_536  # characters; real abstracts are under 3,000
SUFFIXES = {".txt", ".text", ".dump", ""}
# Page furniture. The long lines cannot be titles and are skipped anywhere; the
# short ones could be (a paper called "New"), so they are skipped only in the
# page header, before the first entry.
_BANNERS = {
    "get trending papers in your email inbox once a day!",
    "get trending papers in your email inbox!",
    "byak and the research community",
}
_HEADER = {"subscribe", "new", "daily papers"}
# "SubscribeHow Post-Training..." (the page's button glued to a title; dumps pasted one
# after another repeat it mid-file), but not "Subscriber Churn Prediction".
_GLUED = re.compile(r"^Subscribe(?=[A-Z0-9\[(\"'“])")
_DATE = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(, \d{4})?$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?]\s*$")
_BREAK = re.compile(r"[a-z0-9)]{2,}[.!?] +[A-Z]")
# A full stop after a real word, then a capital: prose. ("vs. BERT" and "Why? A study" are titles.)
_PROSE = re.compile(r"[a-z]{4,}\. +[A-Z]")
_JSON = re.compile(r'^(\{|\[\s*($|[\[{"\d-]|true|false|null))')


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read in blocks: same content, same hash."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_dumps(paths: list[Path]) -> list[Path]:
    """Expand folders into the dump files inside them (sorted); keep files as given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SUFFIXES
            )
        else:
            found.append(path)
    return found


def parse_dump(path: Path, warnings: list[str] | None = None) -> Iterator[Entry]:
    """Yield the entries of one dump in rank order (1 = top trending).

    Problems that lose nothing (a dangling title with no abstract) are added
    to `warnings`; anything that makes the file unusable raises `DumpError`.
    """
    warnings = [] if warnings is None else warnings
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise DumpError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with fh:
        if b"\x00" in fh.read(8192):
            raise DumpError(f"{path}: binary data (NUL bytes): not a text dump")
        fh.seek(0)
        yield from _entries(path, _lines(path, fh), warnings)


def _lines(path: Path, fh: BinaryIO) -> Iterator[tuple[int, str]]:
    """Decoded, stripped, non-blank lines with their numbers; bounded in length."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    number = 0
    while True:
        raw = fh.readline(MAX_LINE * 4)
        if not raw:
            break
        number += 1
        if not raw.endswith(b"\n") and len(raw) >= MAX_LINE * 4:
            raise DumpError(
                f"{path}: line {number} is longer than {MAX_LINE:,} characters: "
                "not a trending-papers dump"
            )
        if b"\x00" in raw:
            raise DumpError(f"{path}: binary data (NUL byte on line {number}): not a text dump")
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise DumpError(
                f"{path}: not UTF-8 text (bad byte 0x{raw[exc.start]:02x} on line {number}); "
                "save the dump as UTF-8"
            ) from exc
        text = text.rstrip("\r\n").strip()
        if len(text) > MAX_LINE:
            raise DumpError(
                f"{path}: line {number} is longer than {MAX_LINE:,} characters: "
                "not a trending-papers dump"
            )
        if text:
            yield number, text


def _entries(path: Path, lines: Iterator[tuple[int, str]], warnings: list[str]) -> Iterator[Entry]:
    rank = 0
    listed: str | None = None
    title: tuple[int, str] | None = None
    first = True
    for number, text in lines:
        if first:
            _reject_other_formats(path, text)
            first = False
        in_header = rank == 0
        if title is None:
            if _GLUED.match(text):  # compact layout: "Subscribe" glued to a title
                text = text[len("Subscribe") :].strip()
            elif text.casefold() in _BANNERS or (in_header and text.casefold() in _HEADER):
                continue
            elif _DATE.match(text):
                listed = text
                continue
            if not _looks_like_title(text):
                raise DumpError(
                    f"{path}: line {number} should be a paper title but is a paragraph "
                    "(expected title and abstract lines in turn): not a trending-papers dump"
                )
            title = (number, text)
        elif _looks_like_abstract(text):
            rank += 1
            yield Entry(Paper(title=title[1], abstract=text), rank=rank, listed=listed)
            title = None
        else:
            warnings.append(_dangling(path, title))
            title = None if (text.casefold() in _BANNERS or _DATE.match(text)) else (number, text)
            if title is None and _DATE.match(text):
                listed = text
    if title is not None:
        warnings.append(_dangling(path, title))
    if rank == 0:
        raise DumpError(f"{path}: no title/abstract pairs found: not a trending-papers dump")


def _reject_other_formats(path: Path, text: str) -> None:
    if _JSON.match(text):
        raise DumpError(f"{path}: looks like JSON, not a trending-papers text dump")
    if text.startswith("<") and re.match(r"<(!doctype|html|\?xml|feed|rss)", text, re.I):
        raise DumpError(f"{path}: looks like HTML/XML, not a trending-papers text dump")


def _looks_like_title(text: str) -> bool:
    """Titles are short and not prose; one full stop happens ("X is not all you need. A ...")."""
    return len(text) <= 400 and len(_PROSE.findall(text)) < 2


def _looks_like_abstract(text: str) -> bool:
    """An abstract is prose: long, or several sentences, or ending like a sentence.

    A short unpunctuated line after a title is the next title: the previous
    title lost its abstract.
    """
    return len(text) >= 200 or bool(_BREAK.search(text)) or bool(_SENTENCE_END.search(text))


def _dangling(path: Path, title: tuple[int, str]) -> str:
    short = title[1] if len(title[1]) <= 60 else title[1][:57] + "..."
    return f"{path}: line {title[0]}: title {short!r} has no abstract; skipped"

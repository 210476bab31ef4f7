"""Text dumps of the Hugging Face trending-papers page.

Two layouts occur in the wild:

* compact: two banner lines, then "Subscribe" glued to the first title, then
  title / abstract lines alternating;
* spaced: blank lines between lines, banner lines ("new", "Daily Papers",
  "byAK and the research community") and date lines ("Sep 9") that date the
  entries below them.

The parser streams: it reads bounded lines a block at a time (dump_read), so
a huge file or a huge line costs neither memory nor time, and it raises
`DumpError` naming the file for anything that is not a dump.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from digest.errors import DumpError
from digest.models import Entry, Paper
from digest.sources.dump_lines import (
    BANNERS,
    DATE,
    GLUED,
    HEADER,
    ends_sentence,
    looks_like_abstract,
    looks_like_title,
    question_title,
    reject_other_formats,
    surely_abstract,
    wrapped,
)
from digest.sources.dump_read import MAX_LINE, read_lines

__all__ = ["MAX_LINE", "file_hash", "find_dumps", "parse_dump"]

SUFFIXES = {".txt", ".text", ".dump", ""}


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

    Problems with single lines (a title with no abstract, prose where a title
    should be) are added to `warnings` with their line numbers, and the good
    entries around them still count; anything that makes the whole file
    unusable (binary, not UTF-8, no entry at all) raises `DumpError`.
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
        yield from _entries(path, read_lines(path, fh), warnings)


class _Held:
    """The last entry read, kept until the next line shows whether its abstract
    goes on (an abstract wrapped onto a second line) or a new entry starts."""

    def __init__(self, title: str, abstract: str, rank: int, listed: str | None) -> None:
        self.title, self.parts, self.rank, self.listed = title, [abstract], rank, listed
        self.size = len(abstract)
        self.sentence_joins = 0

    def entry(self) -> Entry:
        paper = Paper(title=self.title, abstract=" ".join(self.parts))
        return Entry(paper, rank=self.rank, listed=self.listed)

    def continues(self, text: str, following: str | None, fixture: bool, titled: bool) -> bool:
        """Is `text` (read where a title should be) the rest of this abstract?
        (`fixture`: page furniture; `titled`: looks like a title; worked out once.)

        Cut mid-sentence, the abstract goes on with a lowercase word, a
        sentence end, or anything not followed by an abstract; cut between
        sentences (once), with prose, or a sentence not followed by an abstract.
        A title is never prose, so prose is never a title.
        """
        if (
            self.size + len(text) > MAX_LINE
            or fixture
            or (self.sentence_joins and ends_sentence(self.parts[-1]))
        ):
            return False
        if not titled:
            return True
        after_abstract = following is not None and surely_abstract(following)
        if not ends_sentence(self.parts[-1]):
            return text[:1].islower() or ends_sentence(text) or not after_abstract
        return ends_sentence(text) and not after_abstract

    def join(self, text: str) -> None:
        if ends_sentence(self.parts[-1]):
            self.sentence_joins += 1
        self.parts.append(text)
        self.size += len(text) + 1


def _entries(path: Path, lines: Iterator[tuple[int, str]], warnings: list[str]) -> Iterator[Entry]:
    """Title and abstract lines in turn, around the page furniture.

    A line that fits nowhere (prose where a title should be, not the rest of an
    abstract) is reported with its number and skipped: the good entries around
    it still count. A file with no entry at all is not a dump.
    """
    problems = _Problems(path, warnings)
    ahead = _Lookahead(lines)
    rank = 0
    listed: str | None = None
    title: tuple[int, str] | None = None
    held: _Held | None = None
    first_bad: str | None = None
    for number, text in ahead:
        if number == ahead.first:
            reject_other_formats(path, text)
        if title is None:
            # Each test once per line: the held abstract and the title both ask.
            glued, folded, date = GLUED.match(text), text.casefold(), DATE.match(text)
            titled = looks_like_title(text)
            if held is not None:
                fixture = bool(glued or folded in BANNERS or date)
                if held.continues(text, ahead.peek(), fixture, titled):
                    held.join(text)
                    continue
                yield held.entry()
                held = None
            if glued:  # compact layout: "Subscribe" glued to a title
                text = text[len("Subscribe") :].strip()
                titled = looks_like_title(text)
            elif folded in BANNERS or (rank == 0 and folded in HEADER):
                continue
            elif date:
                listed = text
                continue
            if not titled:
                first_bad = first_bad or (
                    f"{path}: line {number} should be a paper title but is a paragraph "
                    "(expected title and abstract lines in turn): not a trending-papers dump"
                )
                problems.add(f"line {number}: a paragraph where a paper title should be; skipped")
                continue
            title = (number, text)
        elif (looks_like_abstract(text) and not question_title(text, ahead.peek())) or wrapped(
            text, ahead.peek()
        ):
            rank += 1
            held = _Held(title[1], text, rank, listed)
            title = None
        else:
            problems.add(_dangling(title))
            title = None if (text.casefold() in BANNERS or DATE.match(text)) else (number, text)
            if title is None and DATE.match(text):
                listed = text
    if held is not None:
        yield held.entry()
    if title is not None:
        problems.add(_dangling(title))
    if rank == 0:
        raise DumpError(
            first_bad or f"{path}: no title/abstract pairs found: not a trending-papers dump"
        )
    problems.close()


class _Lookahead:
    """Lines with a one-line look ahead (is the line after this one an abstract?)."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._lines = lines
        self._next: tuple[int, str] | None = next(lines, None)
        self.first = self._next[0] if self._next else 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        while self._next is not None:
            current, self._next = self._next, next(self._lines, None)
            yield current

    def peek(self) -> str | None:
        return self._next[1] if self._next else None


class _Problems:
    """Problems with single lines, each naming the file and line: the first
    SHOWN as they are, the rest counted (a file of bad lines costs no memory)."""

    SHOWN = 6

    def __init__(self, path: Path, warnings: list[str]) -> None:
        self.path, self.warnings, self.count = path, warnings, 0
        self._start = len(warnings)

    def add(self, text: str) -> None:
        self.count += 1
        if self.count <= self.SHOWN:
            self.warnings.append(f"{self.path}: {text}")

    def close(self) -> None:
        if self.count > self.SHOWN:
            del self.warnings[self._start + self.SHOWN - 1 :]
            more = self.count - self.SHOWN + 1
            self.warnings.append(f"{self.path}: and {more} more lines like these; skipped")


def _dangling(title: tuple[int, str]) -> str:
    short = title[1] if len(title[1]) <= 60 else title[1][:57] + "..."
    return f"line {title[0]}: title {short!r} has no abstract; skipped"

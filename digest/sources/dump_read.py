"""Reading a dump's lines: decoded, cleaned of control characters, bounded.

A line longer than MAX_LINE characters (or than `readline` reads of it) is
refused, and so are NUL bytes and text that is not UTF-8, each naming its line.
The rules for what a line *is* live in dump_lines; the parser in dumps.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from digest.errors import DumpError
from digest.text import printable

MAX_LINE = 65_536  # characters; real abstracts are under 3,000


def read_lines(path: Path, fh: BinaryIO) -> Iterator[tuple[int, str]]:
    """Decoded, stripped, non-blank lines with their numbers; bounded in length.

    Read in blocks of whole lines: a block of valid UTF-8 with no NUL (nearly
    every dump) is decoded at once and split; any other block goes through the
    incremental decoder line by line, as `readline` would cut it, so an error
    names the same line either way. The first line always goes line by line:
    the decoder must see it to drop a byte-order mark.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    number = 0
    for data in _blocks(fh):
        if not number:
            end = data.find(b"\n") + 1 or len(data)
            for raw in _cut(data[:end]):
                number += 1
                yield from _line(path, number, _decoded(path, number, decoder, raw))
            data = data[end:]
        lines = _whole(data)
        if lines is not None:
            for line in lines:
                number += 1
                text = printable(line.rstrip("\r"))
                if len(text) > MAX_LINE or (len(line) >= MAX_LINE and _long(line)):
                    raise _too_long(path, number)
                if text:
                    yield number, text
        else:
            for raw in _cut(data):
                number += 1
                yield from _line(path, number, _decoded(path, number, decoder, raw))


_READ = MAX_LINE * 4  # bytes: the longest line read, as UTF-8 has up to 4 per character
_BLOCK = 1 << 18


def _blocks(fh: BinaryIO) -> Iterator[bytes]:
    """The file in pieces that end with a line end (but the last, and a piece
    holding a line too long to read, which `read_lines` refuses)."""
    carry = b""
    while chunk := fh.read(_BLOCK):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        carry = data[cut:]
        if len(carry) >= _READ:
            yield carry
            return
    if carry:
        yield carry


def _whole(data: bytes) -> list[str] | None:
    """The lines of a block of whole lines that is valid UTF-8 with no NUL (the
    same text line by line decoding gives), or None to take it line by line."""
    if not data.endswith(b"\n") or b"\x00" in data:
        return None
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    lines.pop()  # the empty string after the last line end
    return lines


def _long(line: str) -> bool:
    """Longer than `readline(_READ)` reads (then it returns no line end)?"""
    return len(line.encode("utf-8")) >= _READ


def _cut(data: bytes) -> Iterator[bytes]:
    """`data` as `readline(_READ)` returns it: up to and including each line
    end, at most _READ bytes at a time."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start, start + _READ)
        stop = end + 1 if end >= 0 else min(start + _READ, len(data))
        yield data[start:stop]
        start = stop


def _decoded(path: Path, number: int, decoder: codecs.IncrementalDecoder, raw: bytes) -> str:
    """One line as read (`raw`, line end included) as text without its line end."""
    if not raw.endswith(b"\n") and len(raw) >= _READ:
        raise _too_long(path, number)
    if b"\x00" in raw:
        raise DumpError(f"{path}: binary data (NUL byte on line {number}): not a text dump")
    try:
        text = decoder.decode(raw)
    except UnicodeDecodeError as exc:
        raise DumpError(
            f"{path}: not UTF-8 text (bad byte 0x{raw[exc.start]:02x} on line {number}); "
            "save the dump as UTF-8"
        ) from exc
    return text.rstrip("\r\n")


def _line(path: Path, number: int, text: str) -> Iterator[tuple[int, str]]:
    # No terminal control sequence gets past ingest; the line end went first, so
    # that an ordinary line takes printable's fast path.
    text = printable(text)
    if len(text) > MAX_LINE:
        raise _too_long(path, number)
    if text:
        yield number, text


def _too_long(path: Path, number: int) -> DumpError:
    return DumpError(
        f"{path}: line {number} is longer than {MAX_LINE:,} characters: not a trending-papers dump"
    )

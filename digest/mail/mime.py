"""A digest's MIME message written straight to its wire form (bytes, CRLF).

`email.message.EmailMessage` parses every header it is given into a structured
object and picks each body's transfer encoding by scanning it in pure Python:
about 4 ms of CPU per digest, a large part of a 12,000-reader send that runs in
one process. A digest always has the same simple shape (a few known headers and
a multipart/alternative of a text and an HTML part), so `compose` writes those
bytes directly with the standard library's small, fast pieces (`formataddr`,
`Header` for non-ASCII words, `binascii` for quoted-printable) and the same
choices of transfer encoding as the standard library's. `mail.build_message`
(an EmailMessage) stays the general path, for previews, tests and the rare
digest `compose` declines (an address that needs SMTPUTF8, an overlong header).
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr

MAX_LINE = 998  # RFC 5322's hard limit, the one mail.POLICY folds at


@dataclass(frozen=True)
class Wire:
    """A built message as it goes out: what a transport needs and nothing to parse."""

    data: bytes  # the whole message, CRLF line ends
    message_id: str
    html: str | None = None  # the HTML part, for the outbox's .html file beside the .eml


def address(name: str, addr: str) -> str:
    """A From/To header value: the name quoted or RFC 2047-encoded as it needs."""
    return formataddr((name, addr)) if name else addr


@functools.lru_cache(maxsize=256)
def header_value(value: str) -> str:
    """The value as it may appear in a header: RFC 2047 words when not ASCII.

    Cached: a send writes the same subject (and From) for thousands of readers.
    """
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def compose(
    headers: list[tuple[str, str]], text: str, html: str, boundary: str, message_id: str
) -> Wire | None:
    """multipart/alternative (text first, HTML preferred) under `headers`,
    or None when a header cannot be written without the general path."""
    lines = []
    for name, value in headers:
        if not value.isascii() or "\r" in value or "\n" in value.replace("\r\n ", ""):
            return None
        if len(name) + 2 + len(value) > MAX_LINE:
            return None
        lines.append(f"{name}: {value}")
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    head = "\r\n".join(lines).encode("ascii")
    parts = [head]
    for subtype, body in (("plain", text), ("html", html)):
        cte, encoded = _encoded(body)
        parts.append(
            (
                f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                f"Content-Transfer-Encoding: {cte}\r\n\r\n"
            ).encode("ascii")
            + encoded
        )
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return Wire(b"\r\n".join(parts), message_id, html)


def _encoded(body: str) -> tuple[str, bytes]:
    """The standard library's choice (email.contentmanager): 7bit when ASCII,
    8bit when not, as long as no line passes the limit; otherwise whichever of
    quoted-printable and base64 is shorter over the first ten lines."""
    raw = body.encode("utf-8")
    lines = raw.splitlines()
    if max((len(x) for x in lines), default=0) <= MAX_LINE:
        cte = "7bit" if raw.isascii() else "8bit"
        return cte, b"\r\n".join(lines) + b"\r\n"
    whole = b"\n".join(lines) + b"\n"
    sniff = b"\n".join(lines[:10]) + b"\n"
    if len(binascii.b2a_qp(sniff, istext=True)) > len(binascii.b2a_base64(sniff)):
        return "base64", base64.encodebytes(whole).replace(b"\n", b"\r\n")
    qp = binascii.b2a_qp(whole, istext=True)
    return "quoted-printable", qp.replace(b"\n", b"\r\n")

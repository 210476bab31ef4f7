"""Reading form posts safely: a size limit, CSRF by double-submit cookie.

Forms are plain `application/x-www-form-urlencoded` posts (no JavaScript, no
uploads), so the body is read here with a hard cap and parsed by the standard
library. A CSRF token is a random value set as a SameSite=Strict cookie when a
form is shown and repeated in a hidden field; a post whose field does not match
its cookie is refused. The one-click unsubscribe POST (RFC 8058) is exempt: mail
providers send it without cookies, and its signed token is its authority.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

MAX_BODY = 16 * 1024  # bytes: every form of ours fits in a few hundred
MAX_FIELDS = 100
CSRF_COOKIE = "digest_csrf"
CSRF_FIELD = "csrf"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class FormError(Exception):
    """A post we will not read; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_form(request: Request) -> dict[str, list[str]]:
    """The posted fields, or FormError (413 too big, 415 not a form, 400 malformed)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError(415, "send the form as application/x-www-form-urlencoded")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise FormError(413, "this form is far larger than any of ours")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise FormError(413, "this form is far larger than any of ours")
    try:
        return parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError(400, "this form could not be read") from None


def field(form: dict[str, list[str]], name: str) -> str:
    """One field's value ("" when absent); a repeated field counts once."""
    values = form.get(name) or [""]
    return values[0]


def csrf_token(request: Request) -> str:
    """The visitor's CSRF token: their cookie's, or a new one (set it with `set_csrf`)."""
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if _TOKEN.match(value) else secrets.token_urlsafe(24)


def set_csrf(response: Response, token: str, *, root: str, secure: bool) -> Response:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=7 * 24 * 3600,
        path=root or "/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


def check_csrf(request: Request, form: dict[str, list[str]]) -> None:
    """FormError 403 unless the posted token matches the cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    posted = field(form, CSRF_FIELD)
    if not (_TOKEN.match(cookie) and hmac.compare_digest(cookie, posted)):
        raise FormError(
            403,
            "this form has expired or did not come from this site: reload the page and try again",
        )

"""Signed tokens for the links in emails: unsubscribe, manage, confirm a sign-up.

This module sits low in the import graph (it needs only itsdangerous and the
settings) so that mail composition and delivery can make links without
importing the web application that reads them.

A token carries a purpose (a token made to unsubscribe cannot be used to
manage or confirm), a subject (a subscriber or sign-up id) and a version: the
subscriber's `token_version`, bumped when they leave, so old links stop
working. The signing key comes only from the environment variable that
`[web] secret_env` names; it is never stored, logged or printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from digest.config import Settings
from digest.config.fields import require_web_secret
from digest.errors import DigestError
from digest.secrets import register

PURPOSES = ("unsubscribe", "manage", "confirm", "vote")
CONFIRM_MAX_AGE_S = 48 * 3600  # a sign-up's confirmation link expires after 48 hours


class TokenError(DigestError):
    """A link that is forged, expired, malformed or made for something else."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class Token:
    purpose: str
    subject: int
    version: int


def web_secret(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The signing key from the environment, or a ConfigError naming the variable."""
    value = require_web_secret(settings.web.secret_env, env)
    register(value)
    return value


def _serializer(secret: str, purpose: str, issued: int | None = None) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    signer: type[TimestampSigner] = TimestampSigner
    if issued is not None:  # a token dated in the past (expiry is tested this way)
        stamp = issued

        class IssuedAt(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        signer = IssuedAt
    # The purpose is the salt: a signature for one purpose is invalid for another.
    return URLSafeTimedSerializer(secret, salt=f"digest.{purpose}", signer=signer)


def make_token(
    secret: str, purpose: str, subject: int, version: int = 0, *, issued: int | None = None
) -> str:
    """A URL-safe signed token for `purpose` about `subject` (an id) at `version`.

    It records when it was made (`issued`, Unix seconds; default now), so a
    reader can refuse it after a maximum age.
    """
    return _serializer(secret, purpose, issued).dumps([int(subject), int(version)])


def read_token(secret: str, purpose: str, token: str, max_age: float | None = None) -> Token:
    """The token's content, or TokenError when it is forged, expired or for another purpose."""
    if not token or len(token) > 512:
        raise TokenError("this link is not valid")
    try:
        value = _serializer(secret, purpose).loads(
            token, max_age=None if max_age is None else int(max_age)
        )
    except SignatureExpired:
        raise TokenError("this link has expired", expired=True) from None
    except BadSignature:
        raise TokenError("this link is not valid") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise TokenError("this link is not valid")
    return Token(purpose, value[0], value[1])


def link(
    settings: Settings, secret: str, path: str, purpose: str, subject: int, version: int
) -> str:
    """An absolute link under [web] public_url, e.g. https://host/u/TOKEN."""
    token = make_token(secret, purpose, subject, version)
    return f"{settings.web.public_url}/{path}/{quote(token, safe='')}"


@dataclass(frozen=True)
class VoteToken:
    """A thumbs link of one email: this reader, at this version, says `vote` on a paper."""

    subject: int
    version: int
    paper: int
    vote: int  # +1 or -1


def make_vote_token(secret: str, subject: int, version: int, paper: int, vote: int) -> str:
    """The token of a thumbs-up (+1) or thumbs-down (-1) link beside a paper in an email."""
    if vote not in (1, -1):
        raise ValueError("a thumbs link votes +1 or -1")
    return _vote_serializer(secret).dumps([int(subject), int(version), int(paper), vote])


def _vote_serializer(secret: str) -> URLSafeSerializer:
    """Thumbs tokens carry no timestamp: they never expire (the reader's version
    retires them), and every full paper of every email has two, so short counts."""
    return URLSafeSerializer(secret, salt="digest.vote")


def read_vote_token(secret: str, token: str) -> VoteToken:
    """The vote a thumbs link carries, or TokenError (forged, malformed, another purpose)."""
    if not token or len(token) > 512:
        raise TokenError("this link is not valid")
    try:
        value = _vote_serializer(secret).loads(token)
    except BadSignature:
        raise TokenError("this link is not valid") from None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or value[3] not in (1, -1)
    ):
        raise TokenError("this link is not valid")
    return VoteToken(*value)


def vote_link(
    settings: Settings, secret: str, subject: int, version: int, paper: int, vote: int
) -> str:
    """An absolute thumbs link under [web] public_url: https://host/v/TOKEN."""
    token = make_vote_token(secret, subject, version, paper, vote)
    return f"{settings.web.public_url}/v/{quote(token, safe='')}"

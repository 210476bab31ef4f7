"""What is personal in a digest email: the reader's name and address, and their links.

Two readers of the same papers get the same email but for these values, so
they are gathered in one place (`Personal`): `mail.render_email` puts them in
the templates, and `digest.mail.bodies` renders a digest once with stand-ins for
them and fills each reader's own in (a 12,000-reader send renders a few
hundred distinct digests instead of 12,000).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from digest.config import Settings
from digest.models import Subscriber


@dataclass(frozen=True)
class ReaderLinks:
    """A reader's own signed links (with [web] public_url set)."""

    unsubscribe: str  # RFC 8058 one-click target; a GET shows a button
    manage: str


@dataclass(frozen=True)
class Personal:
    """The values of one reader's email that differ from another reader's of the same papers."""

    reader: str  # the name, whitespace collapsed ("" when none)
    email: str
    unsubscribe: str | None  # the signed link, else the configured list_unsubscribe target
    manage: str | None
    links: ReaderLinks | None
    vote: Callable[[int, int], str] | None = None  # (paper id, +1/-1) -> thumbs link


def unsubscribe_target(settings: Settings, email: str) -> str | None:
    """The configured List-Unsubscribe mailto: or http(s) URL for this reader (checked
    with the settings). `{email}` in it is replaced by the reader's address, URL-encoded."""
    raw = settings.email.list_unsubscribe
    if not raw:
        return None
    return raw.strip().replace("{email}", quote(email, safe="@"))


def reader_links(
    settings: Settings, sub: Subscriber, secret: str | None = None
) -> ReaderLinks | None:
    """The reader's signed unsubscribe and manage links, or None without a web.

    The key is read from the environment unless given (the web app has it).
    """
    if not settings.web.public_url or sub.id is None:
        return None
    from digest.signing import link, web_secret

    secret = secret or web_secret(settings)
    version = sub.token_version
    return ReaderLinks(
        unsubscribe=link(settings, secret, "u", "unsubscribe", sub.id, version),
        manage=link(settings, secret, "m", "manage", sub.id, version),
    )


def personal(settings: Settings, sub: Subscriber) -> Personal:
    """This reader's values, links signed now (once: the body and List-Unsubscribe share them)."""
    links = reader_links(settings, sub)
    vote = None
    if links is not None and sub.id is not None:
        # Thumbs up / down beside each paper (signed "vote" tokens, digest/web/vote.py):
        # a reader's verdict reorders their next emails (digest/rank).
        from digest.signing import vote_link, web_secret

        secret, reader, version = web_secret(settings), sub.id, sub.token_version

        def vote(paper: int, verdict: int) -> str:
            return vote_link(settings, secret, reader, version, paper, verdict)

    return Personal(
        reader=" ".join((sub.name or "").split()),
        email=sub.email,
        unsubscribe=links.unsubscribe if links else unsubscribe_target(settings, sub.email),
        manage=links.manage if links else None,
        links=links,
        vote=vote,
    )


def list_unsubscribe_headers(
    settings: Settings, sub: Subscriber, links: ReaderLinks | None = None
) -> dict[str, str]:
    """List-Unsubscribe (and, with a web, RFC 8058's List-Unsubscribe-Post).

    With [web] public_url the first target is the reader's signed https link,
    which accepts the one-click POST mail providers send; a configured mailto:
    list_unsubscribe follows it as a second choice.
    """
    target = unsubscribe_target(settings, sub.email)
    links = links or reader_links(settings, sub)
    if links is None:
        return {"List-Unsubscribe": f"<{target}>"} if target else {}
    targets = [links.unsubscribe]
    if target and target.lower().startswith("mailto:"):
        targets.append(target)
    return {
        "List-Unsubscribe": ", ".join(f"<{t}>" for t in targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }

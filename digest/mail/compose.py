"""Building the daily email: rendered text and HTML, then the MIME message.

Rendering and building are separate so a preview (`digest build --format
html --subscriber ...`) shows exactly the bodies that `digest send` mails.
Everything from outside (paper text, names, URLs) reaches the templates as
data; the HTML template autoescapes it and links are http(s) only.
"""

from __future__ import annotations

import dataclasses
import email.policy
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import css_inline

from digest.config import Settings
from digest.mail.mime import Wire, address, compose, header_value
from digest.mail.reader_links import Personal, ReaderLinks, personal
from digest.mail.reader_links import list_unsubscribe_headers as list_unsubscribe_headers
from digest.mail.reader_links import reader_links as reader_links
from digest.mail.reader_links import unsubscribe_target as unsubscribe_target
from digest.models import Subscriber
from digest.render import environment, render
from digest.render.view import banner, paper_view
from digest.text import plural, safe_url

# Headers are not folded below the RFC 5322 hard limit: a folded Message-ID or
# List-Unsubscribe is legal, but some programs read it with a stray space.
POLICY = email.policy.default.clone(max_line_length=998)


# Papers shown in full (title, tags, TL;DR, summary, links); the rest are compact
# (title and TL;DR), so a long digest stays light and skimmable.
FULL_PAPERS = 10
# The HTML part's size limit: well under Gmail's ~102 KB clipping point.
HTML_BUDGET = 90_000


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    papers: int  # how many papers it shows (the first ones given)
    # The signed links in the body; List-Unsubscribe repeats the same one (tokens carry
    # the second they were made, so signing again could give a different link).
    links: ReaderLinks | None = None

    @property
    def size(self) -> int:
        """The HTML part's size in bytes, as Gmail counts it for clipping."""
        return len(self.html.encode("utf-8"))


def render_email(
    settings: Settings,
    sub: Subscriber,
    papers: list[dict[str, Any]],
    digest_date: str,
    budget: int = HTML_BUDGET,
    values: Personal | None = None,
) -> RenderedEmail:
    """Render both bodies and the subject of one subscriber's digest.

    `papers` are `summaries.listing` rows in the order they are to appear.
    When the HTML of all of them would pass `budget` bytes (Gmail clips past
    about 102 KB, hiding the rest and the footer), the email shows the first
    papers that fit and says "and N more"; `RenderedEmail.papers` says how
    many it shows, and only those count as delivered. `values` are the
    reader's own (`reader_links.personal`, the default) or stand-ins for them
    (`digest.mail.bodies`).
    """
    values = values or personal(settings, sub)
    shown = len(papers)
    rendered = _render(settings, sub, papers, digest_date, shown, values)
    while rendered.size > budget and shown > 1:
        # Shrink in proportion to the overshoot, then step: a few renders at most.
        guess = int(shown * budget / rendered.size)
        shown = max(1, min(shown - 1, guess))
        rendered = _render(settings, sub, papers, digest_date, shown, values)
    return rendered


def _render(
    settings: Settings,
    sub: Subscriber,
    papers: list[dict[str, Any]],
    digest_date: str,
    shown: int,
    values: Personal,
) -> RenderedEmail:
    day = date.fromisoformat(digest_date)
    hf_url = settings.digest.hf_url
    items = [paper_view(p, n, hf_url) for n, p in enumerate(papers[:shown], 1)]
    vote = values.vote
    if vote is not None:
        # Thumbs up / down beside each paper (signed "vote" tokens, digest/web/vote.py).
        items = [
            item
            if item.id is None
            else dataclasses.replace(item, vote_up=vote(item.id, 1), vote_down=vote(item.id, -1))
            for item in items
        ]
    title = " ".join(settings.digest.title.split()) or "Trending papers"
    n = len(items)
    weekly = sub.frequency == "weekly"
    context = {
        "title": title,
        "date": digest_date,
        "date_long": f"{day:%A}, {day.day} {day:%B %Y}",
        "weekly": weekly,
        "count": n,
        "count_words": f"{plural(n, 'paper')}",
        "papers": items,
        "full": FULL_PAPERS,
        "more": len(papers) - n,
        # The archive: [digest] public_url, else the readers' web application's.
        "public_url": safe_url(settings.digest.public_url)
        or (safe_url(f"{settings.web.public_url}/") if settings.web.public_url else None),
        "banner": banner(items),
        "reader": values.reader,
        "email": values.email,
        "filters": filters(sub),
        "unsubscribe": values.unsubscribe,
        "manage": values.manage,
    }
    folder = settings.digest.templates_dir
    # Both end with a newline, as they do once in the message.
    text = render("email.txt.j2", folder, **context).rstrip("\n") + "\n"
    html = _inline(render("email.html.j2", folder, **context), folder).rstrip("\n") + "\n"
    when = f"week to {digest_date}" if weekly else digest_date
    subject = f"{title} — {when} ({context['count_words']})"
    return RenderedEmail(subject, text, html, n, values.links)


def sender(settings: Settings) -> tuple[str, str]:
    """(From header, envelope sender) from [email] from (checked with the settings); the
    digest title names it when the config gives a bare address."""
    return _sender(settings.email.from_, settings.digest.title)


@functools.lru_cache(maxsize=16)
def _sender(from_: str, title: str) -> tuple[str, str]:
    name, addr = parseaddr(from_)
    return formataddr((name or title, addr)), addr


def new_message_id(settings: Settings) -> str:
    """A fresh, globally unique Message-ID; stored with the digest so retries reuse it.

    It starts with the UTC creation time to the microsecond, so Message-IDs
    (and the outbox files named after them) sort in the order digests were made.
    """
    domain = sender(settings)[1].rsplit("@", 1)[1]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"<{stamp}.{secrets.token_hex(5)}.digest@{domain}>"


def build_message(
    settings: Settings,
    sub: Subscriber,
    email: RenderedEmail,
    *,
    message_id: str,
    when: datetime,
) -> EmailMessage:
    """The multipart/alternative message: plain text first, HTML preferred.

    `when` is the digest's creation time, so a retry is the same message.
    """
    from_header, _ = sender(settings)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_header
    msg["To"] = Address(display_name=sub.name or "", addr_spec=sub.email)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    for name, value in list_unsubscribe_headers(settings, sub, email.links).items():
        msg[name] = value
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(email.text)
    msg.add_alternative(email.html, subtype="html")
    msg.set_boundary(_boundary(message_id))
    return msg


def wire_message(
    settings: Settings,
    sub: Subscriber,
    email: RenderedEmail,
    *,
    message_id: str,
    when: datetime,
) -> Wire | EmailMessage:
    """The same message as `build_message`, written straight to bytes (digest.mail.mime:
    a fraction of the CPU); the EmailMessage when an address needs SMTPUTF8 or a
    header the fast path does not write."""
    from_header, envelope = sender(settings)
    if sub.email.isascii() and envelope.isascii():
        headers = [
            ("From", header_value(from_header)),
            ("To", address(sub.name or "", sub.email)),
            ("Subject", header_value(email.subject)),
            ("Date", format_datetime(when)),
            ("Message-ID", message_id),
            *list_unsubscribe_headers(settings, sub, email.links).items(),
            ("Auto-Submitted", "auto-generated"),
        ]
        wire = compose(headers, email.text, email.html, _boundary(message_id), message_id)
        if wire is not None:
            return wire
    return build_message(settings, sub, email, message_id=message_id, when=when)


def _boundary(message_id: str) -> str:
    """Derived from the Message-ID: a resent digest is byte-for-byte the same."""
    return "==digest-" + hashlib.sha256(message_id.encode()).hexdigest()[:32]


def filters(sub: Subscriber) -> str:
    """The reader's filters in words (the email says why it holds these papers)."""
    parts = []
    if sub.tags:
        parts.append("tagged " + " or ".join(sub.tags))
    if sub.exclude_tags:
        parts.append("not tagged " + " or ".join(sub.exclude_tags))
    if sub.keywords:
        parts.append("mentioning " + " or ".join(f"“{k}”" for k in sub.keywords))
    return ", ".join(parts)


def _inline(html: str, templates_dir: str | None) -> str:
    """Move email.css into style attributes: many mail clients drop <style>."""
    return _inliner(templates_dir).inline(html)


@functools.cache
def _inliner(templates_dir: str | None) -> css_inline.CSSInliner:
    """One inliner per templates folder: the stylesheet is read and parsed once."""
    env = environment(templates_dir)
    css, _, _ = env.loader.get_source(env, "email.css")  # type: ignore[union-attr]
    # Comments would be copied into every email's <style> block with the @media rules.
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\s*([{};,:>])\s*", r"\1", re.sub(r"\s+", " ", css)).strip()
    # @media rules (phones, dark mode) stay in one <style> block for the clients
    # that keep it; everything else is inlined, minified.
    return css_inline.CSSInliner(
        extra_css=css,
        load_remote_stylesheets=False,
        apply_width_attributes=True,
        keep_at_rules=True,
        minify_css=True,
    )

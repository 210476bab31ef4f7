"""Building the daily email: rendered text and HTML, then the MIME message.

Rendering and building are separate so a preview (`digest build --format
html --subscriber ...`) shows exactly the bodies that `digest send` mails.
Everything from outside (paper text, names, URLs) reaches the templates as
data; the HTML template autoescapes it and links are http(s) only.
"""

from __future__ import annotations

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
from urllib.parse import quote, quote_plus

import css_inline

from digest.config import Settings
from digest.errors import ConfigError
from digest.models import Subscriber
from digest.render import environment, render

_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$", re.IGNORECASE)
_AUTHORS_SHOWN = 6
# Headers are not folded below the RFC 5322 hard limit: a folded Message-ID or
# List-Unsubscribe is legal, but some programs read it with a stray space.
POLICY = email.policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    papers: int


def safe_url(url: Any) -> str | None:
    """`url` if it is an absolute http(s) URL without surprises, else None."""
    value = str(url or "").strip()
    return value if _SAFE_URL.match(value) else None


def paper_link(
    paper: dict[str, Any], hf_base_url: str = "https://huggingface.co"
) -> tuple[str, str]:
    """Where a paper's title and abstract link point, and the link's words.

    The source's URL when it gave a usable one, else the arXiv abstract page
    for a known arXiv id, else a Hugging Face papers search for the title
    (dumps carry neither a URL nor an id).
    """
    url = safe_url(paper.get("url"))
    if url:
        return url, "Read the abstract"
    if paper.get("arxiv_id") and re.fullmatch(r"[\w./-]+", paper["arxiv_id"]):
        return f"https://arxiv.org/abs/{paper['arxiv_id']}", "Read the abstract on arXiv"
    base = safe_url(hf_base_url) or "https://huggingface.co"
    query = quote_plus(" ".join(str(paper["title"]).split()))
    return f"{base.rstrip('/')}/papers?q={query}", "Find it on Hugging Face"


def unsubscribe_target(settings: Settings, email: str) -> str | None:
    """The configured List-Unsubscribe mailto: or http(s) URL for this reader.

    `{email}` in the configured value is replaced by the reader's address,
    URL-encoded.
    """
    raw = settings.email.list_unsubscribe
    if not raw:
        return None
    value = raw.strip().replace("{email}", quote(email, safe="@"))
    if value.lower().startswith("mailto:"):
        if "@" in value and not re.search(r"[\s<>\"']", value):
            return value
    elif safe_url(value):
        return value
    raise ConfigError(
        f"[email] list_unsubscribe = {raw!r} is not a mailto: address or an http(s) URL,"
        ' e.g. "mailto:digest-unsubscribe@example.org"'
    )


def render_email(
    settings: Settings, sub: Subscriber, papers: list[dict[str, Any]], digest_date: str
) -> RenderedEmail:
    """Render both bodies and the subject of one subscriber's digest.

    `papers` are `summaries.listing` rows in the order they are to appear.
    """
    day = date.fromisoformat(digest_date)
    items = [_item(p, n, settings.sources.hf_base_url) for n, p in enumerate(papers, 1)]
    title = " ".join(settings.digest.title.split()) or "Trending papers"
    n = len(items)
    context = {
        "title": title,
        "date": digest_date,
        "date_long": f"{day:%A}, {day.day} {day:%B %Y}",
        "count": n,
        "count_words": f"{n} paper{'' if n == 1 else 's'}",
        "papers": items,
        "reader": sub.name or sub.email,
        "email": sub.email,
        "filters": _filters(sub),
        "unsubscribe": unsubscribe_target(settings, sub.email),
    }
    folder = settings.digest.templates_dir
    # Both end with a newline, as they do once in the message.
    text = render("email.txt.j2", folder, **context).rstrip("\n") + "\n"
    html = _inline(render("email.html.j2", folder, **context), folder).rstrip("\n") + "\n"
    return RenderedEmail(f"{title} — {digest_date} ({context['count_words']})", text, html, n)


def sender(settings: Settings) -> tuple[str, str]:
    """(From header, envelope sender) from [email] from; the digest title names it
    when the config gives a bare address."""
    name, addr = parseaddr(settings.email.from_)
    if "@" not in addr or addr != addr.strip() or not addr.isascii():
        raise ConfigError(
            f'[email] from = {settings.email.from_!r} is not an address: e.g. "digest@example.org"'
        )
    return formataddr((name or settings.digest.title, addr)), addr


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
    target = unsubscribe_target(settings, sub.email)
    if target:
        msg["List-Unsubscribe"] = f"<{target}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(email.text)
    msg.add_alternative(email.html, subtype="html")
    # A boundary derived from the Message-ID: a resent digest is byte-for-byte the same.
    msg.set_boundary("==digest-" + hashlib.sha256(message_id.encode()).hexdigest()[:32])
    return msg


def _item(p: dict[str, Any], rank: int, hf_base_url: str) -> dict[str, Any]:
    url, label = paper_link(p, hf_base_url)
    authors = list(p.get("authors") or [])
    byline = ", ".join(authors[:_AUTHORS_SHOWN])
    if len(authors) > _AUTHORS_SHOWN:
        byline += ", et al."
    if p.get("fallback_from"):
        note = (
            f"Offline summary: the model ({p['fallback_from']}) failed, so these sentences"
            " were picked from the abstract."
        )
    elif p.get("backend") == "offline":
        note = "Extractive summary: sentences picked from the abstract."
    else:
        note = None
    extra = []
    arxiv = paper_link({"title": p["title"], "arxiv_id": p.get("arxiv_id")})[0]
    if p.get("arxiv_id") and arxiv != url and arxiv.startswith("https://arxiv.org/"):
        extra.append(("arXiv", arxiv))
    for name, key in (("Code", "github_repo"), ("Project page", "project_page")):
        if safe_url(p.get(key)):
            extra.append((name, safe_url(p.get(key))))
    return {
        "rank": rank,
        "title": " ".join(str(p["title"]).split()),
        "url": url,
        "link_label": label,
        "links": extra,
        "tags": list(p.get("tags") or []),
        "tldr": " ".join(str(p.get("tldr") or "").split()),
        "summary": " ".join(str(p.get("summary") or "").split()),
        "byline": byline,
        "upvotes": p.get("upvotes"),
        "note": note,
        "reason": " ".join(str(p.get("reason") or "").split()) or None,
    }


def _filters(sub: Subscriber) -> str:
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
    return css_inline.CSSInliner(
        extra_css=css,
        load_remote_stylesheets=False,
        apply_width_attributes=True,
    )

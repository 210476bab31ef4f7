"""Hugging Face daily papers: `GET <hf_base_url>/api/daily_papers?date=YYYY-MM-DD`.

The reply is a JSON list; each item holds a `paper` (its `id` is the arXiv
id) plus listing details. Everything in it is untrusted: each field is
checked, text is bounded and cleaned, links must be http(s). An item that
is unusable is skipped with a warning; a reply where no item is usable, or
that is not a JSON list, is an error naming the source (the API changed).

Papers are ranked within the day by upvotes (1 = most), ties in the order
the API listed them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from digest.errors import SourceError
from digest.identity import arxiv_key
from digest.models import Entry, Paper
from digest.sources.http import Fetched, Retry, fetch
from digest.text import printable, safe_url

PAGE_SIZE = 100  # the API's largest page
MAX_PAGES = 5  # a day has had at most ~150 papers; more pages means something is wrong
PAPER_PAGE = "https://huggingface.co/papers/{id}"
_NEW_STYLE_ID = re.compile(r"^\d{4}\.\d{4,5}$")
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 1_000


@dataclass(frozen=True)
class DayReply:
    """One day's reply: all its pages, or `not_modified` when page 0 was a 304."""

    url: str
    first: Fetched
    items: list[Any]
    content_hash: str | None

    @property
    def not_modified(self) -> bool:
        return self.first.not_modified


def daily_papers_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/daily_papers"


def fetch_day(
    client: httpx.Client,
    base_url: str,
    day: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    retry: Retry | None = None,
) -> DayReply:
    """Fetch every page of one day. Page 0 is conditional: a 304 means the day is unchanged."""
    url = daily_papers_url(base_url)
    where = f"hf {day}"

    def page(number: int, conditional: bool) -> Fetched:
        return fetch(
            client,
            url,
            source=where,
            params={"date": day, "limit": PAGE_SIZE, "p": number},
            etag=etag if conditional else None,
            last_modified=last_modified if conditional else None,
            accept="application/json",
            retry=retry,
        )

    first = page(0, conditional=True)
    if first.not_modified:
        return DayReply(first.url, first, [], None)
    digest = hashlib.sha256(first.content)
    chunk = decode_page(first.content, where, first.url)
    items = list(chunk)
    number = 1
    while len(chunk) >= PAGE_SIZE and number < MAX_PAGES:
        reply = page(number, conditional=False)
        chunk = decode_page(reply.content, where, reply.url)
        digest.update(reply.content)
        items += chunk
        number += 1
    return DayReply(first.url, first, items, digest.hexdigest())


def decode_page(content: bytes, where: str, url: str) -> list[Any]:
    """The JSON list of one reply, or a `SourceError` saying what came instead."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        start = content[:40].decode("utf-8", "replace").strip()
        raise SourceError(
            f"{where}: the reply from {url} is not JSON ({exc.__class__.__name__}, "
            f"starts {start!r}): the API may be down or changed"
        ) from exc
    if not isinstance(data, list):
        raise SourceError(
            f"{where}: the reply from {url} is a JSON {type(data).__name__}, "
            "not the list of papers expected: the API may have changed"
        )
    return data


def parse_items(items: list[Any], day: str, warnings: list[str]) -> list[Entry]:
    """Entries of one day, ranked by upvotes; unusable items become warnings."""
    where = f"hf {day}"
    papers: list[Paper] = []
    seen: set[str] = set()
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            paper = _paper(item)
        except ValueError as exc:
            problems.append(str(exc))
            warnings.append(f"{where}: item {index + 1} skipped: {exc}")
            continue
        if paper.arxiv_id in seen:
            warnings.append(f"{where}: item {index + 1} repeats paper {paper.arxiv_id}; skipped")
            continue
        seen.add(paper.arxiv_id or "")
        papers.append(paper)
    if items and not papers:
        raise SourceError(
            f"{where}: none of the {len(items)} items looks like a daily paper "
            f"(first problem: {problems[0]}): the API may have changed"
        )
    ranked = sorted(enumerate(papers), key=lambda pair: (-(pair[1].upvotes or 0), pair[0]))
    return [Entry(paper, rank=rank, listed=day) for rank, (_, paper) in enumerate(ranked, 1)]


def parse_item(item: Any) -> Paper:
    """One item of a daily-papers or paper-search reply; ValueError if unusable."""
    return _paper(item)


def _paper(item: Any) -> Paper:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise ValueError("no 'paper' object")
    paper = item["paper"]
    raw_id = paper.get("id")
    ident = arxiv_key(raw_id) if isinstance(raw_id, str) else ""
    if not _NEW_STYLE_ID.match(ident):
        raise ValueError(f"paper id {str(raw_id)[:40]!r} is not an arXiv id")
    title = _text(item.get("title")) or _text(paper.get("title"))
    abstract = _text(paper.get("summary")) or _text(item.get("summary"))
    if not title or len(title) > MAX_TITLE:
        raise ValueError(f"paper {ident} has no usable title")
    if not abstract or len(abstract) > MAX_ABSTRACT:
        raise ValueError(f"paper {ident} has no usable abstract")
    authors = paper.get("authors") if isinstance(paper.get("authors"), list) else []
    names = [_text(a.get("name")) for a in authors[:MAX_AUTHORS] if isinstance(a, dict)]
    keywords = paper.get("ai_keywords") if isinstance(paper.get("ai_keywords"), list) else []
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=ident,
        url=PAPER_PAGE.format(id=ident),
        authors=tuple(n for n in names if n and len(n) <= 200),
        upvotes=_count(paper.get("upvotes")),
        published=_timestamp(paper.get("publishedAt")),
        github_repo=_link(paper.get("githubRepo")),
        project_page=_link(paper.get("projectPage")),
        ai_keywords=tuple(k for k in map(_text, keywords[:50]) if k and len(k) <= 100),
        num_comments=_count(item.get("numComments")),
        thumbnail=_link(item.get("thumbnail")),
    )


def _text(value: Any) -> str:
    """One line of plain text: control characters dropped, white space folded."""
    return printable(value) if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _link(value: Any) -> str | None:
    return safe_url(value) if isinstance(value, str) else None


def _timestamp(value: Any) -> str | None:
    """The store's format (UTC ISO 8601 to the second), or None if not a timestamp."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat()

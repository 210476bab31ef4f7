"""arXiv: the category RSS feed (the day's announcements) and the API (any date range).

* RSS, `<rss_base>/rss/<category>`: the latest announcement of a category.
  Each item has `arxiv:announce_type`: `new` is kept, `cross` too when
  [sources] arxiv_cross_lists is on; replacements are not new papers.
* API, `<arxiv_base_url>/api/query` (Atom): papers submitted in a date
  range, for catching up on days the feed no longer shows. A paper whose
  primary category is another one is a cross-list.

arXiv asks API clients to leave at least 3 seconds between calls; `Pacer`
does that (its clock and sleep are injectable). Replies are parsed with the
standard library's ElementTree after refusing any DOCTYPE, so no entity can
be declared, let alone expanded; replies are size-capped by the fetcher.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from digest.errors import SourceError
from digest.identity import arxiv_key
from digest.models import Entry, Paper
from digest.text import printable

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "dc": "http://purl.org/dc/elements/1.1/",
}
ABS_PAGE = "https://arxiv.org/abs/{id}"
API_DELAY = 3.0  # seconds between calls, arXiv's API terms
_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(v\d+)?$")
_ID_IN_TEXT = re.compile(r"(?:arxiv\.org/abs/|arXiv:|oai:arXiv\.org:)(\S+?)(?=\s|$)")
_ABSTRACT = re.compile(r"^.*?\bAbstract:\s*", re.DOTALL)
_AUTHORS = re.compile(r",\s*|\s+and\s+")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000


class Pacer:
    """Leaves at least `delay` seconds between the starts of successive calls."""

    def __init__(
        self,
        delay: float = API_DELAY,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delay = delay
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            remaining = self._last + self.delay - self._clock()
            if remaining > 0:
                self._sleep(remaining)
        self._last = self._clock()


def rss_url(base_url: str, category: str) -> str:
    return f"{base_url.rstrip('/')}/rss/{category}"


def api_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/query"


def api_params(category: str, start: str, end: str, offset: int, page_size: int) -> dict:
    """Query papers of `category` submitted from day `start` to day `end` (YYYY-MM-DD)."""
    first, last = start.replace("-", ""), end.replace("-", "")
    return {
        "search_query": f"cat:{category} AND submittedDate:[{first}0000 TO {last}2359]",
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": offset,
        "max_results": page_size,
    }


def parse_rss(content: bytes, where: str, *, cross_lists: bool, warnings: list[str]) -> list[Entry]:
    """The kept announcements of one category feed, in feed order."""
    root = _xml(content, where)
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise SourceError(f"{where}: the reply is <{_local(root.tag)}>, not an RSS feed")
    keep = {"new", "cross"} if cross_lists else {"new"}
    entries: list[Entry] = []
    seen: set[str] = set()
    for index, item in enumerate(channel.findall("item"), 1):
        kind = (item.findtext("arxiv:announce_type", namespaces=NS) or "new").strip()
        if kind not in keep:
            continue
        description = item.findtext("description") or ""
        try:
            ident = _find_id(item.findtext("link"), item.findtext("guid"), description)
            paper = _paper(
                ident,
                item.findtext("title"),
                _ABSTRACT.sub("", description, count=1),
                _AUTHORS.split(item.findtext("dc:creator", namespaces=NS) or ""),
                _rfc822(item.findtext("pubDate")),
            )
        except ValueError as exc:
            warnings.append(f"{where}: item {index} skipped: {exc}")
            continue
        if paper.arxiv_id not in seen:
            seen.add(paper.arxiv_id or "")
            entries.append(Entry(paper, rank=len(entries) + 1))
    return entries


def parse_atom(
    content: bytes, where: str, *, category: str, cross_lists: bool, warnings: list[str]
) -> tuple[list[Entry], int, int]:
    """Entries of one API page kept, the number it held, and the query's total."""
    root = _xml(content, where)
    if root.tag != f"{{{NS['atom']}}}feed":
        raise SourceError(f"{where}: the reply is <{_local(root.tag)}>, not an Atom feed")
    total_text = root.findtext("opensearch:totalResults", namespaces=NS) or "0"
    total = int(total_text) if total_text.strip().isdigit() else 0
    entries: list[Entry] = []
    nodes = root.findall("atom:entry", NS)
    for index, node in enumerate(nodes, 1):
        raw_id = node.findtext("atom:id", "", NS)
        if "/api/errors" in raw_id:  # the API reports bad queries as an entry
            raise SourceError(
                f"{where}: the arXiv API refused the query: "
                f"{_clean(node.findtext('atom:summary', '', NS))[:200]}"
            )
        primary = node.find("arxiv:primary_category", NS)
        if primary is not None and primary.get("term") != category and not cross_lists:
            continue
        try:
            paper = _paper(
                _find_id(raw_id),
                node.findtext("atom:title", None, NS),
                node.findtext("atom:summary", "", NS),
                [a.findtext("atom:name", "", NS) for a in node.findall("atom:author", NS)],
                _iso(node.findtext("atom:published", None, NS)),
            )
        except ValueError as exc:
            warnings.append(f"{where}: entry {index} skipped: {exc}")
            continue
        entries.append(Entry(paper, rank=len(entries) + 1))
    return entries, len(nodes), total


def _xml(content: bytes, where: str) -> ET.Element:
    if _DOCTYPE.search(content):  # entities can only be declared inside one
        raise SourceError(f"{where}: the reply declares a DOCTYPE: not an arXiv feed")
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        start = content[:40].decode("utf-8", "replace").strip()
        raise SourceError(
            f"{where}: the reply is not XML ({exc}; starts {start!r}): "
            "arXiv may be down or have changed"
        ) from exc


def _paper(
    ident: str, title: str | None, abstract: str, authors: list[str], published: str | None
) -> Paper:
    title, abstract = _clean(title), _clean(abstract)
    if not title or len(title) > MAX_TITLE:
        raise ValueError(f"paper {ident} has no usable title")
    if not abstract or len(abstract) > MAX_ABSTRACT:
        raise ValueError(f"paper {ident} has no usable abstract")
    names = tuple(n for n in map(_clean, authors) if n and len(n) <= 200)
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=ident,
        url=ABS_PAGE.format(id=ident),
        authors=names,
        published=published,
    )


def _find_id(*texts: str | None) -> str:
    """The versionless arXiv id in a link, guid or description ("arXiv:2504.17830v1 ...")."""
    for text in texts:
        for match in _ID_IN_TEXT.finditer(text or ""):
            ident = match.group(1).rstrip(".,;")
            if _ID.match(ident):
                return arxiv_key(ident)
    raise ValueError("no arXiv id in its link or description")


def _clean(value: str | None) -> str:
    return printable(value) if value else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iso(value: str | None) -> str | None:
    try:
        when = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


def _rfc822(value: str | None) -> str | None:
    try:
        when = parsedate_to_datetime((value or "").strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).isoformat()

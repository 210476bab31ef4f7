"""What a reader sees of a paper: one typed view, built once, for every output.

The email (HTML and text), the Markdown digest, `digest papers --json`, the
web archive and its feeds all draw a paper from `PaperView`, built by
`paper_view` from a `store.summaries.listing` row, so they cannot disagree
on a title, a link, a TL;DR or who wrote the summary. The view holds plain
text (whitespace collapsed, nothing escaped): each format escapes it on the
way out (Jinja autoescape for HTML, the `md` filter for Markdown).

Reader links are built from `[digest] hf_url`, never from `[sources]
hf_base_url` (a fetching mirror must not leak into what readers click), and
only http(s) URLs ever come out. Operator details (error messages, backend
names, keys) never reach a reader: a summary says only who wrote it, and a
failed model is one banner in reader words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple
from urllib.parse import quote_plus

from digest.models import OFFLINE
from digest.text import safe_url

_ARXIV_ID = re.compile(r"[\w./-]+")
_HF = "https://huggingface.co"
_AUTHORS_SHOWN = 6
EXTRACT = "Extract from the abstract"
# Who wrote the summaries, in the Markdown digest's header line.
EXTRACTS = "extracts from the abstracts"
A_MODEL = "a language model"  # a model summary whose model name is unknown
BANNER_ALL = (
    "Today's summaries are extracts from the abstracts: the summarising model was unavailable."
)
BANNER_SOME = (
    "{n} of today's summaries are extracts from the abstracts: the summarising model"
    " was unavailable for them."
)


class Link(NamedTuple):
    """One page a reader may open; templates unpack it as `label, url`."""

    label: str
    url: str


@dataclass(frozen=True)
class PaperView:
    """One paper as every reader-facing output shows it.

    `writer` and `provenance` are None for a paper not summarised yet (then
    `tldr` and `summary` are None too). The per-reader and per-site parts
    (`reason`, `vote_up`/`vote_down`, `page`) are filled in with
    `dataclasses.replace` by the output that knows them.
    """

    id: int | None
    rank: int  # its place in this output, from 1
    title: str
    url: str  # where the title points: links[0]
    links: tuple[Link, ...]
    authors: tuple[str, ...]
    byline: str  # the first authors, "et al." after them
    upvotes: int | None
    tags: tuple[str, ...]
    tldr: str | None
    summary: str | None
    writer: str | None  # the model's name, A_MODEL, or EXTRACTS
    provenance: str | None  # "Summary by <model>" or EXTRACT
    fallback: bool  # an extract standing in for a model that failed
    arxiv_id: str | None
    first_seen: str  # as stored (a UTC timestamp); `day` is its date
    summarised: str | None  # when the summary shown was written
    reason: str | None = None  # why this reader gets it (digest/rank), email only
    vote_up: str | None = None  # the reader's signed thumbs links (email, with a web)
    vote_down: str | None = None
    page: str | None = None  # the paper's page in the web archive
    # As stored: only the digest and the paper's page show it, so it is tidied on first use.
    abstract_as_stored: str = field(default="", repr=False)

    @cached_property
    def abstract(self) -> str:
        return _words(self.abstract_as_stored)

    @property
    def day(self) -> str:
        """The digest day: the UTC date the paper was first seen."""
        return self.first_seen[:10]


def paper_view(paper: Mapping[str, Any], rank: int, hf_url: str = _HF) -> PaperView:
    """The reader's view of one `listing` row (missing keys read as unknown)."""
    links = paper_links(paper, hf_url)
    authors = tuple(_words(a) for a in paper.get("authors") or ())
    byline = ", ".join(authors[:_AUTHORS_SHOWN])
    if len(authors) > _AUTHORS_SHOWN:
        byline += ", et al."
    writer = _writer(paper)
    tldr, summary = paper.get("tldr"), paper.get("summary")
    return PaperView(
        id=paper.get("id"),
        rank=rank,
        title=_words(paper["title"]),
        url=links[0].url,
        links=tuple(links),
        authors=authors,
        byline=byline,
        upvotes=paper.get("upvotes"),
        tags=tuple(paper.get("tags") or ()),
        tldr=None if tldr is None else _words(tldr),
        summary=None if summary is None else _words(summary),
        writer=writer,
        provenance=None
        if writer is None
        else EXTRACT
        if writer == EXTRACTS
        else f"Summary by {writer}",
        fallback=bool(paper.get("fallback_from")),
        arxiv_id=paper.get("arxiv_id"),
        first_seen=str(paper.get("first_seen") or ""),
        summarised=paper.get("summarised"),
        reason=_words(paper.get("reason") or "") or None,
        abstract_as_stored=paper.get("abstract") or "",
    )


def _words(text: Any) -> str:
    return " ".join(str(text).split())


def _writer(paper: Mapping[str, Any]) -> str | None:
    """Who wrote the summary, in reader words: the offline backend (chosen or
    standing in for a failed model) writes extracts; None when there is none."""
    if paper.get("tldr") is None and not paper.get("summary"):
        return None
    if paper.get("fallback_from") or paper.get("backend") == OFFLINE:
        return EXTRACTS
    return _words(paper.get("model") or "") or A_MODEL


def _arxiv_id(paper: Mapping[str, Any]) -> str | None:
    ident = str(paper.get("arxiv_id") or "").strip()
    return ident if ident and _ARXIV_ID.fullmatch(ident) and ".." not in ident else None


@functools.lru_cache(maxsize=8)
def _hf_base(hf_url: str) -> str:
    """[digest] hf_url checked once per value, not once per paper of every page."""
    return (safe_url(hf_url) or _HF).rstrip("/")


def paper_links(paper: Mapping[str, Any], hf_url: str = _HF) -> list[Link]:
    """(label, URL) of every page a reader may want, the title's target first.

    With an arXiv id: the Hugging Face paper page, the arXiv abstract and the
    PDF. Without one: the source's own page when it gave one, else a Hugging
    Face search for the title (text dumps carry neither). Then code and
    project page when known.
    """
    base = _hf_base(hf_url)
    ident = _arxiv_id(paper)
    links: list[Link] = []
    if ident:
        links += [
            Link("Hugging Face", f"{base}/papers/{ident}"),
            Link("arXiv", f"https://arxiv.org/abs/{ident}"),
            Link("PDF", f"https://arxiv.org/pdf/{ident}"),
        ]
    else:
        url = safe_url(paper.get("url"))
        if url and url.startswith(_HF + "/"):
            url = base + url[len(_HF) :]
        if url:
            links.append(Link("Abstract", url))
        else:
            query = quote_plus(_words(paper["title"]))
            links.append(Link("Find it on Hugging Face", f"{base}/papers?q={query}"))
    for label, key in (("Code", "github_repo"), ("Project page", "project_page")):
        url = safe_url(paper.get(key))
        if url and url not in (link.url for link in links):
            links.append(Link(label, url))
    return links


def banner(papers: Sequence[PaperView]) -> str | None:
    """One line for the top of an email or digest when the model failed, else None."""
    failed = sum(1 for p in papers if p.fallback)
    if not failed:
        return None
    return BANNER_ALL if failed == len(papers) else BANNER_SOME.format(n=failed)


def writers(papers: Sequence[PaperView]) -> list[str]:
    """Who wrote these papers' summaries, each once, sorted (the digest's header)."""
    return sorted({p.writer for p in papers if p.writer is not None})


def to_json(view: PaperView) -> dict[str, Any]:
    """The reader's fields as JSON values; `digest papers --json` adds the operator's."""
    return {
        "id": view.id,
        "title": view.title,
        "abstract": view.abstract,
        "tags": list(view.tags),
        "tldr": view.tldr,
        "summary": view.summary,
        "first_seen": view.first_seen,
        "arxiv_id": view.arxiv_id,
        "authors": list(view.authors),
        "upvotes": view.upvotes,
        "links": [{"label": link.label, "url": link.url} for link in view.links],
        "byline": view.byline,
        "provenance": view.provenance,
        "summarised": view.summarised,
    }

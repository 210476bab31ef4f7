"""What a reader sees of a paper: its links, who wrote its summary, the day's banner.

One place decides these for the email (HTML and text) and the Markdown
digest, so the three never disagree. Reader links are built from
`[digest] hf_url`, never from `[sources] hf_base_url` (a fetching mirror must
not leak into what readers click), and only http(s) URLs ever come out.
Operator details (error messages, backend names, keys) never reach a reader:
a summary says only who wrote it, and a failed model is one banner in reader
words.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote_plus

from digest.text import safe_url

_ARXIV_ID = re.compile(r"[\w./-]+")
_HF = "https://huggingface.co"
_AUTHORS_SHOWN = 6
EXTRACT = "Extract from the abstract"
BANNER_ALL = (
    "Today's summaries are extracts from the abstracts: the summarising model was unavailable."
)
BANNER_SOME = (
    "{n} of today's summaries are extracts from the abstracts: the summarising model"
    " was unavailable for them."
)


def _arxiv_id(paper: dict[str, Any]) -> str | None:
    ident = str(paper.get("arxiv_id") or "").strip()
    return ident if ident and _ARXIV_ID.fullmatch(ident) and ".." not in ident else None


def paper_links(paper: dict[str, Any], hf_url: str = _HF) -> list[tuple[str, str]]:
    """(label, URL) of every page a reader may want, the title's target first.

    With an arXiv id: the Hugging Face paper page, the arXiv abstract and the
    PDF. Without one: the source's own page when it gave one, else a Hugging
    Face search for the title (text dumps carry neither). Then code and
    project page when known.
    """
    base = (safe_url(hf_url) or _HF).rstrip("/")
    ident = _arxiv_id(paper)
    links: list[tuple[str, str]] = []
    if ident:
        links += [
            ("Hugging Face", f"{base}/papers/{ident}"),
            ("arXiv", f"https://arxiv.org/abs/{ident}"),
            ("PDF", f"https://arxiv.org/pdf/{ident}"),
        ]
    else:
        url = safe_url(paper.get("url"))
        if url and url.startswith(_HF + "/"):
            url = base + url[len(_HF) :]
        if url:
            links.append(("Abstract", url))
        else:
            query = quote_plus(" ".join(str(paper["title"]).split()))
            links.append(("Find it on Hugging Face", f"{base}/papers?q={query}"))
    for label, key in (("Code", "github_repo"), ("Project page", "project_page")):
        url = safe_url(paper.get(key))
        if url and url not in (u for _, u in links):
            links.append((label, url))
    return links


def provenance(paper: dict[str, Any]) -> str | None:
    """Who wrote the summary, in reader words: "Summary by <model>" or
    "Extract from the abstract" (the offline backend, chosen or standing in)."""
    if paper.get("tldr") is None and not paper.get("summary"):
        return None
    if paper.get("fallback_from") or paper.get("backend") == "offline":
        return EXTRACT
    model = " ".join(str(paper.get("model") or "").split())
    return f"Summary by {model}" if model else "Summary by a language model"


def banner(papers: list[dict[str, Any]]) -> str | None:
    """One line for the top of the email when the model failed, else None."""
    failed = sum(1 for p in papers if p.get("fallback_from"))
    if not failed:
        return None
    return BANNER_ALL if failed == len(papers) else BANNER_SOME.format(n=failed)


def paper_view(paper: dict[str, Any], rank: int, hf_url: str = _HF) -> dict[str, Any]:
    """The reader's view of one paper, for every template."""
    links = paper_links(paper, hf_url)
    authors = [" ".join(str(a).split()) for a in paper.get("authors") or []]
    byline = ", ".join(authors[:_AUTHORS_SHOWN])
    if len(authors) > _AUTHORS_SHOWN:
        byline += ", et al."
    return {
        "rank": rank,
        "title": " ".join(str(paper["title"]).split()),
        "url": links[0][1],
        "links": links,
        "tags": list(paper.get("tags") or []),
        "tldr": " ".join(str(paper.get("tldr") or "").split()),
        "summary": " ".join(str(paper.get("summary") or "").split()),
        "byline": byline,
        "upvotes": paper.get("upvotes"),
        "provenance": provenance(paper),
        # Why this reader gets it (digest/rank), and their thumbs links (with a web).
        "reason": " ".join(str(paper.get("reason") or "").split()) or None,
        "vote_up": None,
        "vote_down": None,
    }

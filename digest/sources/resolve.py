"""Real links for dump papers: find each one's arXiv id by its title.

Dumps of the trending page carry a title and an abstract, no id, so readers
got only a Hugging Face title search. Here each such paper is looked up:

1. Hugging Face's paper search, `GET <hf_base_url>/api/papers/search?q=TITLE`
   (a JSON list of items shaped like the daily papers', parsed by hf.py);
2. if that finds nothing, the arXiv API, `search_query=ti:"TITLE"` (Atom,
   parsed by arxiv.py), paced at arXiv's 3 seconds between calls.

A result counts only when its title has the paper's identity key (the one
rule in digest.identity); the nearest title is never "close enough". A match
is stored by store.links (id, authors, links); a miss is remembered there
and not retried for a month. A source that fails (timeouts, 429, 5xx) gets
no further request this run, and nothing is remembered for the papers it
could not answer: they are looked up next run.

It runs in `digest run` when [sources] resolve_links is on; by default only
when a live source is enabled, so offline runs never touch the network.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import httpx
from sqlite_utils import Database

from digest.config import Settings
from digest.errors import SourceError
from digest.identity import title_key
from digest.models import Paper
from digest.sources import arxiv, hf
from digest.sources.http import Retry, SourceUnavailable, fetch, make_client
from digest.store.links import papers_to_resolve, record_match, record_miss

log = logging.getLogger(__name__)

HF_DELAY = 0.5  # seconds between Hugging Face searches: one reader's pace, not a crawler's
ARXIV_RESULTS = 5
MAX_QUERY_CHARS = 300


@dataclass
class ResolveReport:
    looked_up: int = 0
    found: int = 0
    missed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        return (
            f"links: {self.found} of {self.looked_up} dump papers found on Hugging Face/arXiv"
            + (f", {self.missed} not found" if self.missed else "")
        )


@dataclass
class _Searcher:
    session: httpx.Client
    settings: Settings
    retry: Retry | None
    hf_pacer: arxiv.Pacer
    arxiv_pacer: arxiv.Pacer
    down: dict[str, str] = field(default_factory=dict)  # source -> why it is not asked again

    def hugging_face(self, paper: Paper) -> Paper | None:
        reply = fetch(
            self.session,
            self.settings.sources.hf_base_url.rstrip("/") + "/api/papers/search",
            source="hf search",
            params={"q": _query(paper.title)},
            accept="application/json",
            retry=self.retry,
            before=self.hf_pacer.wait,
        )
        items = hf.decode_page(reply.content, "hf search", reply.url)
        for item in items:
            try:
                found = hf.parse_item(item)
            except ValueError:
                continue  # one odd result is not an answer about this paper
            if title_key(found.title) == title_key(paper.title):
                return found
        return None

    def arxiv(self, paper: Paper) -> Paper | None:
        phrase = _query(title_key(paper.title)).replace('"', "")
        reply = fetch(
            self.session,
            arxiv.api_url(self.settings.sources.arxiv_base_url),
            source="arxiv search",
            params={"search_query": f'ti:"{phrase}"', "max_results": ARXIV_RESULTS},
            accept="application/atom+xml",
            retry=self.retry,
            before=self.arxiv_pacer.wait,
        )
        entries, _, _ = arxiv.parse_atom(
            reply.content, "arxiv search", category="", cross_lists=True, warnings=[]
        )
        for entry in entries:
            if title_key(entry.paper.title) == title_key(paper.title):
                return entry.paper
        return None


def resolve_links(
    db: Database,
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    retry: Retry | None = None,
    hf_pacer: arxiv.Pacer | None = None,
    arxiv_pacer: arxiv.Pacer | None = None,
    limit: int | None = None,
) -> ResolveReport:
    """Look up to `limit` ([sources] resolve_limit) dump papers; never raises for a source."""
    report = ResolveReport()
    todo = papers_to_resolve(db, limit or settings.sources.resolve_limit)
    if not todo:
        return report
    with _client(settings, client) as session:
        searcher = _Searcher(
            session,
            settings,
            retry,
            hf_pacer or arxiv.Pacer(HF_DELAY),
            arxiv_pacer or arxiv.Pacer(),
        )
        for paper in todo:
            if len(searcher.down) == 2:
                break
            _resolve_one(db, searcher, paper, report)
    report.errors += list(dict.fromkeys(searcher.down.values()))
    log.info("%s", report.line)
    return report


def _resolve_one(db: Database, searcher: _Searcher, paper: Paper, report: ResolveReport) -> None:
    if paper.id is None:
        return
    report.looked_up += 1
    answered = []
    for name, search in (("hf", searcher.hugging_face), ("arxiv", searcher.arxiv)):
        if name in searcher.down:
            continue
        try:
            found = search(paper)
        except SourceUnavailable as exc:
            searcher.down[name] = str(exc)
            continue
        except SourceError as exc:  # a reply we cannot read: this paper only
            log.warning("%s", exc)
            continue
        answered.append(name)
        if found is not None:
            if record_match(db, paper.id, found):
                report.found += 1
            return
    if len(answered) == 2:  # both asked and both answered: a real miss
        record_miss(db, paper.id, "no title match on Hugging Face or arXiv")
        report.missed += 1


def _query(title: str) -> str:
    return " ".join(title.split())[:MAX_QUERY_CHARS]


def _client(settings: Settings, client: httpx.Client | None) -> contextlib.AbstractContextManager:
    if client is not None:
        return contextlib.nullcontext(client)
    return make_client(settings.sources.timeout, contact=settings.sources.contact)

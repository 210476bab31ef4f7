"""Live sources into the store: fetch, parse, record; one report per day or category.

A source that fails is reported (`IngestReport.error`, one line naming the
source) and the others still run. When a source cannot be reached at all
(timeouts, connection refused, 429/5xx retried in vain) it gets no further
request this run: the next run picks up where this one stopped.

Each reply is stored in one transaction with its fetch state; a reply
identical to one stored before (same content hash) changes nothing, and a
304 (the server's validators say unchanged) costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
from sqlite_utils import Database

from digest.config import Settings
from digest.errors import ConfigError, DigestError, SourceError
from digest.models import Entry, IngestReport
from digest.sources import arxiv, hf
from digest.sources.days import ARXIV, HF, Day, day_span, hf_days, parse_day, today_of
from digest.sources.http import Fetched, Retry, SourceUnavailable, fetch, make_client
from digest.store.fetch_state import get_state, latest_source, mark_failed, mark_ok
from digest.store.papers import record_entries, source_by_hash
from digest.text import plural

API_PAGE = 200  # results per arXiv API call
API_MAX_PAGES = 10  # per category and range: 2,000 papers


@dataclass
class _Run:
    """What every fetch of one command shares."""

    db: Database
    settings: Settings
    session: httpx.Client
    retry: Retry | None
    pacer: arxiv.Pacer | None = None


def fetch_enabled_sources(
    db: Database,
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    today: Day = None,
    retry: Retry | None = None,
    pacer: arxiv.Pacer | None = None,
) -> list[IngestReport]:
    """The daily run's fetch: every live source the config turns on; never raises for one."""
    reports: list[IngestReport] = []
    common: dict[str, Any] = {"client": client, "today": today, "retry": retry}
    if settings.sources.hf_daily:
        reports += _guarded(HF, partial(fetch_hf, db, settings, **common))
    if settings.sources.arxiv_categories:
        reports += _guarded(ARXIV, partial(fetch_arxiv, db, settings, pacer=pacer, **common))
    return reports


def fetch_hf(
    db: Database,
    settings: Settings,
    *,
    date: Day = None,
    since: Day = None,
    client: httpx.Client | None = None,
    today: Day = None,
    retry: Retry | None = None,
) -> list[IngestReport]:
    """Hugging Face daily papers for `date`, every day from `since`, or (neither) every
    day since the last successful fetch, at most [sources] catchup_days back."""
    days = hf_days(
        db, settings, parse_day(date, "date"), parse_day(since, "since"), today_of(today)
    )
    with _client(settings, client) as session:
        run = _Run(db, settings, session, retry)
        jobs = [(f"hf {day}", day, partial(_hf_day, run, day)) for day in days]
        return _each(run, HF, jobs, ("later day", "later days"))


def fetch_arxiv(
    db: Database,
    settings: Settings,
    *,
    date: Day = None,
    since: Day = None,
    client: httpx.Client | None = None,
    today: Day = None,
    retry: Retry | None = None,
    pacer: arxiv.Pacer | None = None,
) -> list[IngestReport]:
    """arXiv for every [sources] arxiv_categories: with neither `date` nor `since`, the
    latest announcement (RSS); otherwise papers submitted on `date` / since `since` (API)."""
    categories = _categories(settings)
    day, start = parse_day(date, "date"), parse_day(since, "since")
    if day and start:
        raise SourceError("arxiv: give a date or a start date, not both")
    span = (
        (day.isoformat(),) * 2
        if day
        else day_span(start, today_of(today), ARXIV)
        if start
        else None
    )
    with _client(settings, client) as session:
        run = _Run(db, settings, session, retry, pacer or arxiv.Pacer())
        if span:
            label = f" {span[0]}..{span[1]}"
            jobs = [
                (f"arxiv {c}{label}", f"api:{c}", partial(_arxiv_api, run, c, span))
                for c in categories
            ]
        else:
            jobs = [(f"arxiv {c}", f"rss:{c}", partial(_arxiv_rss, run, c)) for c in categories]
        return _each(run, ARXIV, jobs, ("later category", "later categories"))


def _each(
    run: _Run,
    source: str,
    jobs: Sequence[tuple[str, str, Callable[[str], IngestReport]]],
    later: tuple[str, str],  # (one, many): what is left when a source stops answering
) -> list[IngestReport]:
    """Run every (label, state key, job); a failure is reported, and an unreachable
    source is not asked again this run."""
    reports: list[IngestReport] = []
    for number, (label, key, job) in enumerate(jobs):
        try:
            reports.append(job(label))
        except SourceError as exc:
            mark_failed(run.db, source, key, str(exc))
            left = len(jobs) - number - 1
            stop = isinstance(exc, SourceUnavailable) and left > 0
            note = f" ({plural(left, *later)} left for the next run)" if stop else ""
            reports.append(IngestReport(label, error=f"{exc}{note}"))
            if stop:
                break
    return reports


def _hf_day(run: _Run, day: str, label: str) -> IngestReport:
    state = get_state(run.db, HF, day) or {}
    reply = hf.fetch_day(
        run.session,
        run.settings.sources.hf_base_url,
        day,
        etag=state.get("etag"),
        last_modified=state.get("last_modified"),
        retry=run.retry,
    )
    report = IngestReport(label)
    entries = [] if reply.not_modified else hf.parse_items(reply.items, day, report.warnings)
    _store(run.db, HF, day, entries, reply.first, reply.content_hash, report)
    return report


def _arxiv_rss(run: _Run, category: str, label: str) -> IngestReport:
    key = f"rss:{category}"
    state = get_state(run.db, ARXIV, key) or {}
    base = run.settings.sources.arxiv_rss_base_url
    reply = fetch(
        run.session,
        arxiv.rss_url(base, category),
        source=label,
        etag=state.get("etag"),
        last_modified=state.get("last_modified"),
        retry=run.retry,
        before=_pace(run),
        accept="application/rss+xml, application/xml;q=0.9",
    )
    report = IngestReport(label)
    if reply.not_modified:
        _store(run.db, ARXIV, key, [], reply, None, report)
        return report
    cross = run.settings.sources.arxiv_cross_lists
    entries = arxiv.parse_rss(reply.content, label, cross_lists=cross, warnings=report.warnings)
    _store(run.db, ARXIV, key, entries, reply, _hash(run, category, reply.content), report)
    return report


def _arxiv_api(run: _Run, category: str, span: tuple[str, str], label: str) -> IngestReport:
    report = IngestReport(label)
    url = arxiv.api_url(run.settings.sources.arxiv_base_url)
    digest = hashlib.sha256(_hash(run, category, b"").encode())
    entries: dict[str, Entry] = {}
    offset, first = 0, None
    for _ in range(API_MAX_PAGES):
        params = arxiv.api_params(category, span[0], span[1], offset, API_PAGE)
        reply = fetch(
            run.session,
            url,
            source=label,
            params=params,
            accept="application/atom+xml",
            retry=run.retry,
            before=_pace(run),
        )
        first = first or reply
        kept, count, total = arxiv.parse_atom(
            reply.content,
            label,
            category=category,
            cross_lists=run.settings.sources.arxiv_cross_lists,
            warnings=report.warnings,
        )
        digest.update(reply.content)
        for entry in kept:
            if entry.paper.arxiv_id not in entries:
                entries[entry.paper.arxiv_id or ""] = Entry(entry.paper, rank=len(entries) + 1)
        offset += count
        if count == 0 or offset >= total:
            break
    else:
        report.warnings.append(f"{label}: stopped after {offset} of {total}: fetch fewer days")
    if first is not None:
        _store(
            run.db,
            ARXIV,
            f"api:{category}",
            list(entries.values()),
            _without_validators(first),
            digest.hexdigest(),
            report,
        )
    return report


def _without_validators(reply: Fetched) -> Fetched:
    """API replies vary with the query: their validators are not kept."""
    return Fetched(reply.url, reply.status, b"")


def _store(
    db: Database,
    source: str,
    key: str,
    entries: list[Entry],
    reply: Fetched,
    content_hash: str | None,
    report: IngestReport,
) -> None:
    """Record one reply and its fetch state together; unchanged replies store nothing."""
    with db.atomic():
        if reply.not_modified:
            previous = latest_source(db, reply.url)
        else:
            previous = source_by_hash(db, content_hash) if content_hash else None
        if reply.not_modified or previous is not None:
            report.skipped = True
            report.entries = previous["entries"] if previous else 0
        elif entries:  # an empty day (weekends) leaves no source row behind
            record_entries(
                db,
                entries,
                kind=source,
                location=reply.url,
                content_hash=content_hash,
                report=report,
            )
        mark_ok(db, source, key, etag=reply.etag, last_modified=reply.last_modified)


def _hash(run: _Run, category: str, content: bytes) -> str:
    """Which entries an arXiv reply yields depends on the category and the cross-list
    setting too: the same bytes read another way are not "unchanged"."""
    context = f"arxiv {category} cross={run.settings.sources.arxiv_cross_lists}\n"
    return hashlib.sha256(context.encode() + content).hexdigest()


def _pace(run: _Run) -> Callable[[], None] | None:
    return run.pacer.wait if run.pacer else None


def _categories(settings: Settings) -> list[str]:
    categories = list(dict.fromkeys(settings.sources.arxiv_categories))
    if not categories:
        raise ConfigError('arxiv: no categories: set [sources] arxiv_categories = ["cs.LG"]')
    return categories  # each checked with the settings


def _client(settings: Settings, client: httpx.Client | None) -> contextlib.AbstractContextManager:
    if client is not None:
        return contextlib.nullcontext(client)
    contact = settings.sources.contact
    return make_client(settings.sources.timeout, contact=contact)


def _guarded(name: str, run: Callable[[], list[IngestReport]]) -> list[IngestReport]:
    """A source that cannot even start (bad config) is reported, not raised."""
    try:
        return run()
    except DigestError as exc:
        return [IngestReport(name, error=str(exc))]

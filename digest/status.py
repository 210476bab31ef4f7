"""Everything `digest status` reports, gathered from the store in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.errors import ConfigError
from digest.locks import holder as lock_holder
from digest.store.deliveries import status_lines as mail_status_lines
from digest.store.links import lookup_counts
from digest.store.llm_calls import status_lines as llm_status_lines
from digest.store.papers import last_source
from digest.store.runs import last_run, process_alive
from digest.store.summaries import counts


def collect(db: Database, settings: Settings) -> dict[str, Any]:
    """A JSON-able status report; `text` holds the human-readable lines by section."""
    c = counts(db)
    text: dict[str, list[str]] = {
        "database": [f"{settings.db}"],
        "papers": [
            f"{c['papers']} papers from {c['sources']} sources ({c['sightings']} sightings)",
            f"{c['summarised']} summarised, {c['unsummarised']} waiting"
            + (f", {c['fallbacks']} offline fallbacks" if c["fallbacks"] else ""),
        ],
    }
    text["sources"] = _source_lines(db, settings)
    run = last_run(db, "run")
    text["runs"] = _run_lines(run)
    text["schedule"] = _schedule_lines(settings)
    text["model calls"] = llm_status_lines(db, settings)
    text["subscribers"] = mail_status_lines(db, settings) + _signup_lines(db)
    ranking = _ranking_lines(db, settings)
    if ranking:
        text["ranking"] = ranking
    return {"counts": c, "last_run": run, "text": text}


def _signup_lines(db: Database) -> list[str]:
    """Web sign-ups whose confirmation link (valid 48 h) is still unclicked."""
    from datetime import timedelta

    from digest.store.signups import pending_signups

    since = (datetime.now(UTC) - timedelta(hours=48)).replace(microsecond=0).isoformat()
    waiting = pending_signups(db, since)
    if not waiting:
        return []
    return [f"{waiting} web sign-up{'' if waiting == 1 else 's'} waiting for confirmation"]


def _source_lines(db: Database, settings: Settings) -> list[str]:
    from digest.store.fetch_state import states

    lines = []
    dump = last_source(db, "dump")
    if dump:
        lines.append(
            f"last dump {dump['location']} ingested {dump['ingested_at']} ({dump['new']} new)"
        )
    for state in states(db)[:6]:
        outcome = (
            state["status"] if state["status"] == "ok" else f"{state['status']}: {state['error']}"
        )
        lines.append(f"{state['source']} {state['key']}: {outcome} ({state['fetched_at']})")
    live = [
        name
        for name, on in (
            ("hf", settings.sources.hf_daily),
            ("arxiv", bool(settings.sources.arxiv_categories)),
        )
        if on
    ]
    lines.append(
        "live sources: "
        + (", ".join(live) if live else "off ([sources] hf_daily, arxiv_categories)")
    )
    links = lookup_counts(db)
    state = "on" if settings.sources.resolving else "off"
    lines.append(
        f"dump papers' arXiv links: {links['found']} found, {links['missed']} not found"
        f" ([sources] resolve_links {state})"
    )
    return lines


def _run_lines(run: dict[str, Any] | None) -> list[str]:
    if run is None:
        return ["no run yet: `digest run` runs the daily job once"]
    state = run["status"]
    if state == "running" and not process_alive(run["pid"]):
        state = "interrupted: its process is gone; the next run finishes the job"
    summary = run["line"] or ("under way" if state == "running" else "no summary line")
    lines = [f"last run {run['started']} ({state}): {summary}"]
    lines += [f"error: {e}" for e in run["errors"][:5]]
    return lines


def _schedule_lines(settings: Settings) -> list[str]:
    from digest.dates import next_run_time

    try:
        when = next_run_time(settings, datetime.now(UTC))
    except ConfigError as exc:
        return [f"invalid schedule: {exc}"]
    holder = lock_holder(settings.db, "serve")
    state = f"`digest serve` is running ({holder})" if holder else "`digest serve` is not running"
    return [
        f"next scheduled run {when.isoformat(timespec='minutes')} "
        f"(cron {settings.schedule.cron!r}); {state}"
    ]


def _ranking_lines(db: Database, settings: Settings) -> list[str]:
    """Per reader who gave interests or votes: what ranks their papers, and how
    many due papers their min relevance holds back (they are not lost)."""
    from digest.rank import Ranking
    from digest.store.subscribers import list_subscribers, select_papers

    now = datetime.now(UTC)
    ranking = Ranking(db, settings, now)
    lines = []
    for sub in list_subscribers(db, active_only=True):
        if not ranking.wants(sub):
            continue
        votes = ranking.votes(sub)
        ups = sum(v > 0 for v in votes.values())
        signals = (["interests"] if sub.interests else []) + (
            [f"{ups} liked, {len(votes) - ups} rated down"] if votes else []
        )
        line = f"{sub.email}: ranked by {' + '.join(signals)}"
        if sub.min_relevance is not None:
            selection = select_papers(db, settings, sub, now)
            plan = ranking.plan(sub, selection.due, selection.cap)
            line += (
                f"; {plan.held_back} due paper{'' if plan.held_back == 1 else 's'}"
                f" under min relevance {sub.min_relevance:g} held back"
            )
        lines.append(line)
    if ranking.note:
        lines.append(ranking.note)
    return lines

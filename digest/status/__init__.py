"""Everything `digest status` reports, gathered from the store in one place.

Read from the record and the store's counts only: nothing here ranks,
summarises or fetches (an import-linter contract keeps it so), so a status
never waits for a model or the network, whatever the settings name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.errors import ConfigError
from digest.locks import holder as lock_holder
from digest.status.model_calls import model_call_lines
from digest.status.readers import reader_lines
from digest.store import db_file
from digest.store.delivery_stats import delivery_summary, emails_of
from digest.store.links import lookup_counts
from digest.store.papers import last_source
from digest.store.rank_record import rank_records, ranked_readers
from digest.store.runs import last_run, process_alive
from digest.store.summaries import counts
from digest.text import plural

# Up to this many readers, `digest status` prints a line for each by default.
PER_READER_UP_TO = 10


def collect(
    db: Database,
    settings: Settings,
    *,
    subscribers: list[str] | None = None,
    every_reader: bool = False,
) -> dict[str, Any]:
    """A JSON-able status report; `text` holds the human-readable lines by section.

    Readers: one line each for `subscribers`, or for everyone with `every_reader`
    or when there are at most PER_READER_UP_TO; otherwise a summary (counts and
    the readers who need attention), which stays fast at thousands of readers.
    """
    c = counts(db)
    mail = delivery_summary(db)
    text: dict[str, list[str]] = {
        "database": _database_lines(db, settings, mail["pruned"]),
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
    text["model calls"] = model_call_lines(db, settings)
    summary = not subscribers and not every_reader and mail["readers"] > PER_READER_UP_TO
    if subscribers:
        text["subscribers"] = reader_lines(db, settings, emails=subscribers)
    elif summary:
        text["subscribers"] = _summary_lines(db, settings, mail)
    else:
        text["subscribers"] = reader_lines(db, settings)
    text["subscribers"] += _signup_lines(db)
    ranking = _ranked_count(db) if summary else _ranking_lines(db, subscribers)
    if ranking:
        text["ranking"] = ranking
    mail.pop("attention_ids")
    return {"counts": c, "last_run": run, "subscribers": mail, "text": text}


def _database_lines(db: Database, settings: Settings, pruned: dict[str, int]) -> list[str]:
    path = db_file(db)
    size = 0
    if path is not None:
        for f in (path, path.with_name(path.name + "-wal")):
            size += f.stat().st_size if f.exists() else 0
    first = f"{settings.db} ({size / 1e6:.1f} MB)" if path else f"{settings.db}"
    if not any(pruned.values()):
        return [
            first,
            "nothing pruned yet (delivery detail older than the window is pruned after each send)",
        ]
    return [
        first,
        f"pruned: {pruned.get('delivered', 0)} delivered-paper rows past the window,"
        f" {pruned.get('archived', 0)} digests archived (what each reader got is kept),"
        f" {pruned.get('failed', 0)} old failed digests",
    ]


def _summary_lines(db: Database, settings: Settings, mail: dict[str, Any]) -> list[str]:
    lines = [
        f"{mail['active']} active readers ({mail['weekly']} weekly),"
        + (f" {mail['paused']} paused," if mail["paused"] else "")
        + f" {mail['readers'] - mail['active'] - mail['paused']} unsubscribed;"
        f" {mail['never_emailed']} never emailed",
    ]
    if mail["last_digest_day"]:
        lines.append(
            f"digest of {mail['last_digest_day']}: {mail['sent_last_day']} emails sent;"
            f" {mail['pending']} waiting for a retry"
        )
    need = mail["need_attention"]
    if need:
        shown = emails_of(db, mail["attention_ids"])
        more = f" (the first {len(shown)})" if need > len(shown) else ""
        who = "1 reader needs" if need == 1 else f"{need} readers need"
        lines.append(f"{who} attention{more}:")
        lines += ["  " + line for line in reader_lines(db, settings, emails=shown)]
    else:
        lines.append("no reader needs attention")
    lines.append("one line per reader: `digest status --all`, or `--subscriber EMAIL`")
    return lines


def _signup_lines(db: Database) -> list[str]:
    """Web sign-ups whose confirmation link (valid 48 h) is still unclicked."""
    from datetime import timedelta

    from digest.store.signups import pending_signups

    since = (datetime.now(UTC) - timedelta(hours=48)).replace(microsecond=0).isoformat()
    waiting = pending_signups(db, since)
    if not waiting:
        return []
    return [f"{plural(waiting, 'web sign-up')} waiting for confirmation"]


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
    resolving = "on" if settings.sources.resolving else "off"
    lines.append(
        f"dump papers' arXiv links: {links['found']} found, {links['missed']} not found"
        f" ([sources] resolve_links {resolving})"
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


def _ranked_count(db: Database) -> list[str]:
    """The ranking section of the summary: how many readers are ranked, in one query."""
    ranked = ranked_readers(db)
    if not ranked:
        return []
    who = "1 reader is" if ranked == 1 else f"{ranked} readers are"
    return [f"{who} ranked by their interests or votes (`digest status --all` for each)"]


def _ranking_lines(db: Database, emails: list[str] | None = None) -> list[str]:
    """Per reader who gave interests or votes: what ranks their papers, and how
    many due papers their min relevance held back at the last send (they are
    not lost: they stay due). From the record: nothing is ranked here."""
    from digest.store.subscribers import get_subscriber, list_subscribers

    records = rank_records(db)
    lines = []
    subs = [get_subscriber(db, e) for e in emails] if emails else None
    for sub in subs if subs is not None else list_subscribers(db, active_only=True):
        record = records.get(sub.id) if sub.active and sub.id is not None else None
        if record is None:
            continue
        votes = record.liked + record.rated_down
        signals = (["interests"] if sub.interests else []) + (
            [f"{record.liked} liked, {record.rated_down} rated down"] if votes else []
        )
        line = f"{sub.email}: ranked by {' + '.join(signals)}"
        if sub.min_relevance is not None:
            floor = f"min relevance {sub.min_relevance:g}"
            if record.held_back is None:
                line += f"; {floor}: what it holds back is counted at the next send"
            else:
                line += (
                    f"; {plural(record.held_back, 'due paper')} under {floor} held back"
                    " at the last send"
                )
        lines.append(line)
    return lines

"""Realistic digests for the email's size and browser checks (and bench/email_size.py).

Papers come from the real parts: the seed dumps ingested and a recorded
Hugging Face daily-papers reply parsed by the real source code (live papers
with arXiv ids, authors, upvotes, code and project links), stored in a real
SQLite file and summarised by the offline backend. `mixed` interleaves them,
so an email has both kinds, live ones among its full and its compact papers.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from digest.backends import get_backend
from digest.config import Settings
from digest.models import IngestReport
from digest.sources import hf
from digest.sources.ingest import ingest_paths
from digest.store import open_db
from digest.store.papers import record_entries
from digest.store.summaries import listing
from digest.summarize import pending_papers, summarize_papers

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "examples" / "dumps"
FIRST_DUMP = SEEDS / "001_f241505a523fd2a8.txt"  # 52 papers: with the live ones, 93
# 41 live papers; the second day's have code and project links.
HF_DAYS = ("2024-10-25", "2025-09-09")


def build_library(path: Path, dumps: Path = SEEDS) -> Path:
    """Seed dumps (all by default) and two recorded Hugging Face days, summarised offline."""
    db = open_db(path)
    reports = ingest_paths(db, [dumps])
    if any(r.error for r in reports):
        raise RuntimeError(reports)
    for day in HF_DAYS:
        payload = HERE / "data" / "hf" / f"{day}.json"
        items = json.loads(payload.read_text(encoding="utf-8"))
        record_entries(
            db,
            hf.parse_items(items, day, []),
            kind="hf",
            location=f"https://huggingface.co/api/daily_papers?date={day}",
            content_hash=f"recorded-{day}",
            report=IngestReport(path=str(payload)),
        )
    backend = get_backend("offline", Settings())
    summarize_papers(db, backend, pending_papers(db, backend))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


def mixed(path: Path, n: int) -> list[dict[str, Any]]:
    """`n` summarised papers, live and dump papers taking turns (live first)."""
    rows = listing(open_db(path))
    live = [r for r in rows if r["arxiv_id"] and r["authors"]]
    dumps = [r for r in rows if not r["arxiv_id"]]
    if not live or not dumps:
        raise RuntimeError("the library lacks live or dump papers")
    turns = itertools.chain.from_iterable(itertools.zip_longest(live, dumps))
    papers = [p for p in turns if p is not None][:n]
    if len(papers) < n:
        raise RuntimeError(f"only {len(papers)} papers in the library, {n} wanted")
    return papers

"""A day of many papers: summarised a page at a time, and a digest of bounded size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests_support import SEEDS

from digest.backends.offline import OfflineBackend
from digest.config import load_settings
from digest.sources.ingest import ingest_paths
from digest.store import open_db, summaries
from digest.summarize import summarize_pending

DUMP = SEEDS / "001_f241505a523fd2a8.txt"  # 52 papers


def test_summarising_pages_through_every_pending_paper_in_rank_order(
    db, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_paths(db, [DUMP])
    monkeypatch.setattr(summaries, "PAGE", 5)  # 11 pages, the last one short
    backend = OfflineBackend(load_settings().tags)
    seen: list[int] = []
    report = summarize_pending(db, backend, lambda r: seen.append(r.done))
    assert (report.total, report.done) == (52, 52)
    assert seen[-1] == 52
    by_summary = [r[0] for r in db.execute("SELECT paper_id FROM summaries ORDER BY id")]
    by_rank = [r[0] for r in db.execute("SELECT id FROM papers ORDER BY best_rank, id")]
    assert by_summary == by_rank
    assert summarize_pending(db, backend).total == 0  # nothing left, nothing redone


def test_summarize_limit_takes_the_best_ranked_papers(invoke) -> None:
    invoke("ingest", str(DUMP))
    result = invoke("summarize", "--limit", "7")
    assert result.exit_code == 0, result.output
    db = open_db("digest.db")
    done = {r[0] for r in db.execute("SELECT paper_id FROM summaries")}
    best = {r[0] for r in db.execute("SELECT id FROM papers ORDER BY best_rank, id LIMIT 7")}
    assert done == best


def test_the_days_digest_holds_at_most_max_digest_papers_and_says_how_many_more(
    invoke,
) -> None:
    Path("digest.toml").write_text("[digest]\nmax_digest_papers = 10\n", encoding="utf-8")
    assert invoke("run", str(DUMP)).exit_code == 0
    [made] = Path("digests").glob("*.md")
    text = made.read_text(encoding="utf-8")
    numbers = [int(n) for n in re.findall(r"(?m)^## (\d+)\. ", text)]
    assert numbers == list(range(1, 11))
    assert "· 10 of 52 papers ·" in text
    day = made.stem
    assert text.rstrip().endswith(
        f"*…and 42 more papers first seen since {day}, not shown here:"
        f" `digest papers --since {day} --limit 52` lists them all.*"
    )


def test_build_with_a_limit_says_how_many_more_there_were(invoke) -> None:
    invoke("ingest", str(DUMP))
    text = invoke("build", "--limit", "3").stdout
    assert len(re.findall(r"(?m)^## \d+\. ", text)) == 3
    assert "…and 49 more papers first seen since" in text


def test_max_digest_papers_must_be_positive(invoke) -> None:
    Path("digest.toml").write_text("[digest]\nmax_digest_papers = 0\n", encoding="utf-8")
    result = invoke("run", str(DUMP))
    assert result.exit_code == 2
    assert "max_digest_papers" in result.stderr and "Traceback" not in result.output

"""One paper record however it arrives: dumps (no id), Hugging Face and arXiv (ids)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from payload_server import DATA, PayloadServer

from digest.config import Settings, SourcesConfig
from digest.models import Entry, IngestReport, Paper
from digest.sources.arxiv import parse_atom
from digest.sources.hf import parse_items
from digest.sources.http import Retry
from digest.sources.live import fetch_hf
from digest.store import open_db
from digest.store.papers import record_entries

DAY = "2025-09-09"
HF_TITLE = "Reverse-Engineered Reasoning for Open-Ended Generation"
DUMP_TITLE = "REVERSE-ENGINEERED reasoning for open–ended generation"  # case, en dash
ATOM_ONE = (DATA / "arxiv" / "api_id_2104.12255v1.xml").read_bytes()


def hf_items() -> list[dict]:
    return json.loads((DATA / "hf" / f"{DAY}.json").read_text(encoding="utf-8"))


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    """A dump holding one paper of the HF fixture (title spelt differently) and one other."""
    abstract = " ".join(hf_items()[0]["paper"]["summary"].split())
    path = tmp_path / "dump.txt"
    path.write_text(
        f"{DUMP_TITLE}\n{abstract}\n"
        "Only In A Dump: A Paper Nobody Fetched\n"
        "We study papers that appear only in dumps. They have no identifier at all.\n",
        encoding="utf-8",
    )
    return path


def record(db, *entries: Entry, kind: str = "hf") -> IngestReport:
    return record_entries(
        db, list(entries), kind=kind, location=kind, content_hash=None, report=IngestReport(kind)
    )


def fetch_day(server: PayloadServer) -> IngestReport:
    db = open_db("digest.db")  # the CLI's default database, in the test's folder
    settings = Settings(sources=SourcesConfig(hf_daily=True, hf_base_url=server.url))
    [report] = fetch_hf(db, settings, date=DAY, retry=Retry(sleep=lambda s: None))
    db.close()
    return report


def test_a_dump_paper_gains_the_id_link_authors_and_upvotes_of_the_hf_sighting(
    invoke, dump: Path, server: PayloadServer
) -> None:
    assert invoke("ingest", str(dump)).exit_code == 0
    report = fetch_day(server)
    assert (report.new, report.known) == (15, 1)
    rows = json.loads(invoke("papers", "--json", "--limit", "100").stdout)
    assert len(rows) == 17
    [merged] = [r for r in rows if r["arxiv_id"] == "2509.06160"]
    assert merged["title"] == DUMP_TITLE  # the first text seen is kept
    assert merged["url"] == "https://huggingface.co/papers/2509.06160"
    assert merged["authors"][:3] == ["Haozhe Wang", "Haoran Que", "Qixin Xu"]
    assert merged["upvotes"] == 62
    [alone] = [r for r in rows if r["title"].startswith("Only In A Dump")]
    assert (alone["arxiv_id"], alone["url"], alone["authors"], alone["upvotes"]) == (
        None,
        None,
        [],
        None,
    )


def test_the_markdown_digest_shows_authors_upvotes_and_links(
    invoke, dump: Path, server: PayloadServer
) -> None:
    invoke("ingest", str(dump))
    fetch_day(server)
    text = invoke("build").stdout
    section = text.split("](https://huggingface.co/papers/2509.06160)", 1)[1].split("\n## ")[0]
    assert "[REVERSE-ENGINEERED reasoning for open–ended generation]" in text
    assert (
        "Haozhe Wang, Haoran Que, Qixin Xu, Minghao Liu, Wangchunshu Zhou, Jiazhan Feng, "
        "et al. · ▲ 62"
    ) in section
    # HF-only papers are linked too; the dump-only paper gets a title search, no author line.
    assert (
        "[WebExplorer: Explore and Evolve for Training Long-Horizon Web Agents]"
        "(https://huggingface.co/papers/2509.06501)\n\nJunteng Liu, "
    ) in text
    alone = text.split("## 2. ", 1)[1].split("\n## ")[0]
    assert alone.startswith(
        "[Only In A Dump: A Paper Nobody Fetched](https://huggingface.co/papers?q=Only+In+A"
    )
    assert alone.count("](") == 1 and "et al." not in alone and "▲" not in alone


def test_an_hf_entry_titled_differently_merges_with_the_arxiv_paper_by_id(db) -> None:
    warnings: list[str] = []
    entries, _, _ = parse_atom(
        ATOM_ONE, "arxiv cs.CR", category="cs.CR", cross_lists=False, warnings=warnings
    )
    record(db, *entries, kind="arxiv")
    item = hf_items()[0]
    item = {
        **item,
        "title": "Zero: the funniest number in cryptography",
        "paper": {**item["paper"], "id": "2104.12255", "upvotes": 5},
    }
    report = record(db, *parse_items([item], DAY, warnings))
    assert (report.new, report.known) == (0, 1)
    rows = list(db.query("SELECT * FROM papers"))
    assert len(rows) == 1
    assert (rows[0]["title"], rows[0]["arxiv_id"], rows[0]["upvotes"]) == ("0", "2104.12255", 5)
    assert rows[0]["url"] == "https://huggingface.co/papers/2104.12255"


def test_two_api_sightings_merge_by_id_whatever_the_version(db) -> None:
    warnings: list[str] = []
    v2 = ATOM_ONE.replace(b"2104.12255v1", b"2104.12255v2").replace(
        b"<title>0</title>", b"<title>0: splitting zero attacks</title>"
    )
    for payload in (ATOM_ONE, v2):
        entries, _, _ = parse_atom(
            payload, "arxiv cs.CR", category="cs.CR", cross_lists=False, warnings=warnings
        )
        record(db, *entries, kind="arxiv")
    assert db.execute("SELECT COUNT(*), MIN(arxiv_id) FROM papers").fetchone() == (1, "2104.12255")
    assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == 2


def test_an_arxiv_link_never_replaces_the_hf_page(db) -> None:
    hf = Paper(
        HF_TITLE, "abstract", arxiv_id="2509.06160", url="https://huggingface.co/papers/2509.06160"
    )
    arxiv = Paper(
        HF_TITLE, "abstract", arxiv_id="2509.06160v2", url="https://arxiv.org/abs/2509.06160"
    )
    record(db, Entry(hf, 1))
    record(db, Entry(arxiv, 1), kind="arxiv")
    assert db.execute("SELECT url FROM papers").fetchone() == (hf.url,)
    only_arxiv = Paper(
        "Another paper", "abstract", arxiv_id="2509.00001", url="https://arxiv.org/abs/2509.00001"
    )
    record(db, Entry(Paper("Another paper", "abstract"), 1), kind="dump")
    record(db, Entry(only_arxiv, 1), kind="arxiv")
    assert db.execute("SELECT url FROM papers WHERE key = 'another paper'").fetchone() == (
        only_arxiv.url,
    )


def test_an_id_already_held_by_another_paper_keeps_both_rows_and_loses_nothing(db) -> None:
    record(db, Entry(Paper("Bar", "dump abstract"), 1), kind="dump")
    record(db, Entry(Paper("Bar, revised title", "abstract", arxiv_id="2101.00002"), 1))
    report = record(db, Entry(Paper("Bar", "abstract", arxiv_id="2101.00002", upvotes=4), 2))
    assert (report.known, report.error) == (1, None)
    rows = db.execute("SELECT key, arxiv_id, upvotes FROM papers ORDER BY id").fetchall()
    assert rows == [("bar", None, 4), ("bar revised title", "2101.00002", None)]

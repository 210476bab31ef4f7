"""Dump papers gain their arXiv id, authors and links from a title search.

A real HTTP server on 127.0.0.1 answers with recorded payloads: Hugging Face
search replies are built from recorded daily-papers items (the search API
returns items of the same shape), arXiv title searches from a recorded Atom
feed. Nothing here reaches the internet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from payload_server import ATOM, PayloadServer, failing
from tests_support import DATA

from digest.config import Settings
from digest.sources.arxiv import Pacer
from digest.sources.http import Retry
from digest.sources.ingest import ingest_paths
from digest.sources.resolve import resolve_links
from digest.store import open_db

HF_DAY = json.loads((DATA / "hf" / "2024-05-27.json").read_text(encoding="utf-8"))
CONVLLAVA = next(i for i in HF_DAY if i["paper"]["id"] == "2405.15738")
FUZZING_TITLE = "Active Fuzzing for Testing and Securing Cyber-Physical Systems"
ARXIV_FEED = (DATA / "arxiv" / "api_query_testing_10.xml").read_bytes()
SEARCH = "/api/papers/search"
NO_RETRY = Retry(attempts=1, sleep=lambda _: None)


def write_dump(folder: Path) -> Path:
    """A trending-page dump with the titles as the page prints them (other case and
    punctuation than the APIs)."""
    abstract = " ".join(CONVLLAVA["paper"]["summary"].split())
    lines = [
        "ConvLLaVA - hierarchical backbones as visual encoder for large multimodal models",
        abstract,
        FUZZING_TITLE.upper(),
        "Cyber-physical systems (CPSs) in critical infrastructure face a pervasive threat "
        "from attackers, motivating research into a variety of countermeasures.",
        "A recipe for banana bread",
        "Mash three ripe bananas, stir in flour, sugar and butter, and bake for an hour.",
    ]
    path = folder / "dump.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def stored(tmp_path: Path, server: PayloadServer):
    """A database holding the dump, and settings pointing the sources at the server."""
    db = open_db(tmp_path / "digest.db")
    reports = ingest_paths(db, [write_dump(tmp_path)])
    assert not reports[0].error
    settings = Settings(db=str(tmp_path / "digest.db"))
    settings.sources.hf_base_url = server.url
    settings.sources.arxiv_base_url = server.url
    settings.sources.resolve_links = True
    # Hugging Face knows ConvLLaVA (among other results); for anything else it
    # returns other papers of the day; arXiv's title search returns its feed.
    server.serve(SEARCH, json.dumps(HF_DAY[:5]).encode(), q=CONVLLAVA_DUMP_TITLE)
    server.serve(SEARCH, json.dumps(HF_DAY[5:8]).encode())
    server.serve("/api/query", ARXIV_FEED, ATOM)
    yield db, settings
    db.close()


CONVLLAVA_DUMP_TITLE = (
    "ConvLLaVA - hierarchical backbones as visual encoder for large multimodal models"
)


def run(db, settings, sleeps: list[float] | None = None):
    sleeps = [] if sleeps is None else sleeps
    return resolve_links(
        db,
        settings,
        retry=NO_RETRY,
        hf_pacer=Pacer(0.5, sleep=sleeps.append),
        arxiv_pacer=Pacer(3.0, sleep=sleeps.append),
    )


def row(db, title_start: str) -> dict:
    rows = list(db.query("SELECT * FROM papers WHERE title LIKE ?", [title_start + "%"]))
    assert len(rows) == 1
    return rows[0]


def test_dump_papers_gain_id_authors_and_links_only_on_an_identical_title_key(
    stored, server: PayloadServer
) -> None:
    db, settings = stored
    report = run(db, settings)
    assert (report.looked_up, report.found, report.missed) == (3, 2, 1)
    conv = row(db, "ConvLLaVA")
    assert conv["arxiv_id"] == "2405.15738"
    assert conv["url"] == "https://huggingface.co/papers/2405.15738"
    assert json.loads(conv["authors"])[:2] == ["Chunjiang Ge", "Sijie Cheng"]
    assert conv["title"].startswith("ConvLLaVA - hierarchical")  # the stored text stays
    fuzz = row(db, FUZZING_TITLE.upper())
    assert fuzz["arxiv_id"] == "2005.14124"  # found through arXiv, not Hugging Face
    assert fuzz["url"] == "https://arxiv.org/abs/2005.14124"
    assert json.loads(fuzz["authors"])
    bread = row(db, "A recipe for banana bread")
    assert bread["arxiv_id"] is None and bread["url"] is None  # nearest titles never count
    # Politely: who is asking, and arXiv's title search quotes the title's key.
    assert all(r.headers["user-agent"].startswith("digest/") for r in server.requests)
    queries = [r.query["search_query"] for r in server.seen("/api/query")]
    assert f'ti:"{FUZZING_TITLE.lower().replace("-", " ")}"' in queries


def test_a_miss_is_remembered_and_not_searched_again(stored, server: PayloadServer) -> None:
    db, settings = stored
    run(db, settings)
    asked = len(server.requests)
    again = run(db, settings)
    assert again.looked_up == 0 and len(server.requests) == asked
    assert db.execute("SELECT COUNT(*) FROM link_lookups WHERE found IS NULL").fetchone()[0] == 1


def test_searches_are_paced(stored) -> None:
    db, settings = stored
    sleeps: list[float] = []
    run(db, settings, sleeps)
    assert sleeps and all(s > 0 for s in sleeps)  # the pacer waited between calls


def test_a_source_that_is_down_is_not_asked_again_and_nothing_is_remembered(
    stored, server: PayloadServer
) -> None:
    db, settings = stored
    server.inject(SEARCH, failing(503))
    server.inject("/api/query", failing(503))
    report = run(db, settings)
    assert report.found == 0 and report.missed == 0
    assert len(server.seen(SEARCH)) == 1 and len(server.seen("/api/query")) == 1
    assert any("hf search" in e and "503" in e for e in report.errors)
    assert db.execute("SELECT COUNT(*) FROM link_lookups").fetchone()[0] == 0
    assert run(db, settings).found == 2  # the next run looks them up


def test_an_arxiv_id_held_by_another_paper_is_not_taken(stored) -> None:
    db, settings = stored
    db.execute(
        "INSERT INTO papers (key, arxiv_id, title, abstract, first_seen)"
        " VALUES ('other', '2405.15738', 'Other', 'x', '2020-01-01T00:00:00+00:00')"
    )
    run(db, settings)
    assert row(db, "ConvLLaVA")["arxiv_id"] is None


def test_offline_runs_make_no_network_call(tmp_path: Path, server: PayloadServer, invoke) -> None:
    """The quick start: no live source, so no lookup even when the URLs point somewhere."""
    write_dump(tmp_path)
    (tmp_path / "digest.toml").write_text(
        f'[sources]\nhf_base_url = "{server.url}"\narxiv_base_url = "{server.url}"\n',
        encoding="utf-8",
    )
    invoke("subscribe", "you@example.org")
    result = invoke("run", str(tmp_path / "dump.txt"))
    assert result.exit_code == 0, result.output
    assert server.requests == []
    assert Settings().sources.resolving is False
    live = Settings()
    live.sources.hf_daily = True
    assert live.sources.resolving is True


# The CLI paces arXiv at its 3 s between calls (no clock to inject): full run only.
@pytest.mark.slow
def test_the_daily_run_resolves_when_asked_and_status_counts(
    tmp_path: Path, server: PayloadServer, invoke
) -> None:
    write_dump(tmp_path)
    server.serve(SEARCH, json.dumps(HF_DAY[:5]).encode(), q=CONVLLAVA_DUMP_TITLE)
    server.serve(SEARCH, b"[]")
    server.serve("/api/query", ARXIV_FEED, ATOM)
    (tmp_path / "digest.toml").write_text(
        f'[sources]\nhf_base_url = "{server.url}"\narxiv_base_url = "{server.url}"\n'
        "resolve_links = true\n",
        encoding="utf-8",
    )
    result = invoke("run", str(tmp_path / "dump.txt"))
    assert "links: 2 of 3 dump papers found on Hugging Face/arXiv, 1 not found" in result.output
    status = invoke("status").output
    assert "dump papers' arXiv links: 2 found, 1 not found ([sources] resolve_links on)" in status

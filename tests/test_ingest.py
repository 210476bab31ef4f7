"""Ingesting dumps into a real SQLite file: identity, sightings, bad files, no-ops."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from digest.store import open_db, open_memory


def ingest_json(invoke, *paths: Path):
    result = invoke("ingest", "--json", *map(str, paths))
    return result, json.loads(result.stdout)


def test_seed_dumps_give_540_papers_and_record_every_sighting(invoke, seeds: Path) -> None:
    result, out = ingest_json(invoke, seeds)
    assert result.exit_code == 0
    assert [f["entries"] for f in out["files"]] == [227, 52, 234, 119]
    assert out["new"] == 540 and out["known"] == 632 - 540
    db = open_db("digest.db")
    assert db["papers"].count == 540
    assert db["sightings"].count == 632
    assert db["sources"].count == 4


def test_reingesting_the_same_file_is_a_noop_and_says_so(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds))
    again = invoke("ingest", str(seeds / "001_f241505a523fd2a8.txt"))
    assert again.exit_code == 0
    assert "already ingested" in again.stdout
    db = open_db("digest.db")
    assert db["sightings"].count == 632 and db["sources"].count == 4


def test_same_paper_in_a_new_dump_is_a_sighting_not_a_new_paper(
    invoke, seeds: Path, tmp_path
) -> None:
    invoke("ingest", str(seeds / "000_212a8c0834e203e0.txt"))
    lines = (seeds / "000_212a8c0834e203e0.txt").read_text(encoding="utf-8").splitlines()
    # The same top paper, title re-cased and re-punctuated, abstract slightly changed.
    title = lines[2].removeprefix("Subscribe").upper().replace(":", " -")
    repeat = tmp_path / "repeat.txt"
    repeat.write_text(f"{title}\n{lines[3]} Code is available.\n", encoding="utf-8")
    result, out = ingest_json(invoke, repeat)
    assert out["new"] == 0 and out["known"] == 1
    db = open_db("digest.db")
    assert db["papers"].count == 227
    sighting = list(db.query("SELECT * FROM sightings ORDER BY id DESC LIMIT 1"))[0]
    assert sighting["paper_id"] == 1 and sighting["abstract_differs"] == 1
    assert db["papers"].get(1)["abstract"] == lines[3]  # the first text is kept


def test_bad_file_is_named_and_the_others_still_load(invoke, seeds: Path) -> None:
    (seeds / "broken.txt").write_bytes(b'{"not": "a dump"}')
    result = invoke("ingest", str(seeds))
    assert result.exit_code == 1
    assert "broken.txt: looks like JSON" in result.stderr
    assert "Traceback" not in result.output
    db = open_db("digest.db")
    assert db["papers"].count == 540
    assert [r["location"] for r in db["sources"].rows if "broken" in r["location"]] == []


def test_file_failing_halfway_leaves_nothing_behind(invoke, seeds: Path, tmp_path) -> None:
    good = (seeds / "003_03f71fdfc5ea1829.txt").read_bytes()
    half = tmp_path / "half.txt"
    half.write_bytes(good + b"\nCaf\xe9 Latin-1 Title\nWe study it. It works.\n")
    result, out = ingest_json(invoke, half)
    assert result.exit_code == 1
    assert "not UTF-8 text (bad byte 0xe9 on line 242)" in out["files"][0]["error"]
    db = open_db("digest.db")
    assert db["papers"].count == 0 and db["sightings"].count == 0 and db["sources"].count == 0


def test_missing_path_is_reported(invoke) -> None:
    result = invoke("ingest", "nowhere.txt")
    assert result.exit_code == 1
    assert "nowhere.txt: no such file or folder" in result.stderr


def test_database_path_comes_from_option_or_environment(invoke, seeds: Path, tmp_path) -> None:
    invoke("--db", "first.db", "ingest", str(seeds / "001_f241505a523fd2a8.txt"))
    invoke("ingest", str(seeds / "001_f241505a523fd2a8.txt"), env={"DIGEST_DB": "second.db"})
    assert open_db("first.db")["papers"].count == 52
    assert open_db("second.db")["papers"].count == 52
    assert not (tmp_path / "digest.db").exists()


def test_a_file_that_is_not_sqlite_is_refused_clearly(invoke, seeds: Path, tmp_path) -> None:
    (tmp_path / "notes.db").write_text("these are my notes, not a database" * 100)
    result = invoke("--db", "notes.db", "ingest", str(seeds))
    assert result.exit_code == 2
    assert "notes.db cannot be used as the digest database" in result.stderr
    assert (tmp_path / "notes.db").read_text().startswith("these are my notes")


def test_migrations_create_every_table_and_column() -> None:
    db = open_memory()
    tables = set(db.table_names())
    assert {
        "papers",
        "sightings",
        "sources",
        "summaries",
        "papers_fts",
        "llm_calls",
        "runs",
        "subscribers",
        "deliveries",
        "delivered",
        "fetch_state",
    } <= tables
    assert {"key", "title", "abstract", "first_seen", "arxiv_id"} <= set(db["papers"].columns_dict)
    assert {
        "paper_id",
        "backend",
        "model",
        "prompt_version",
        "tldr",
        "summary",
        "tags",
        "created",
    } <= set(db["summaries"].columns_dict)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_database_is_in_wal_mode(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds / "001_f241505a523fd2a8.txt"))
    conn = sqlite3.connect("digest.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_dump_with_bad_lines_loads_every_good_entry_and_names_the_lines(
    invoke, seeds: Path, tmp_path
) -> None:
    lines = (seeds / "003_03f71fdfc5ea1829.txt").read_text(encoding="utf-8").splitlines()
    lines[100:100] = ["Sep 9", "Prose here. It is not a title. Nor an abstract of anything."]
    bad = tmp_path / "bad-line.txt"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("ingest", str(bad))
    assert result.exit_code == 0
    assert f"warning: {bad}: line 102: a paragraph where a paper title should be" in result.stderr
    assert f"loaded  {bad}: 119 entries, 119 new" in result.stdout
    assert open_db("digest.db")["papers"].count == 119

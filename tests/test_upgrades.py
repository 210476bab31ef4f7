"""Upgrading a database written by an older version: every earlier schema step.

A real database is made once with the real commands (subscribe, a daily run,
a second dump ingested but not yet mailed). For each earlier step, a database
is built with the migrations up to that step only (sqlite-utils `Migrations`
can stop before a step), filled with that data as far as its tables and
columns go, and opened by this version: every row must survive unchanged, the
new columns get their defaults, and the upgraded database works (search,
status, a send that mails nothing twice).
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database
from tests_support import SEEDS

from digest.cli import cli
from digest.errors import StoreError
from digest.sources.dumps import parse_dump
from digest.store import open_db
from digest.store.migrations import migrations

STEPS = [m.name for m in migrations.pending(Database(memory=True))]
SENT_DUMP = SEEDS / "001_f241505a523fd2a8.txt"  # run and mailed before the upgrade
LATER_DUMP = SEEDS / "003_03f71fdfc5ea1829.txt"  # ingested, not yet mailed
READERS = ("ada@example.org", "bob@example.org")
# Rows no command writes without a live source; what one would have written.
EXTRA = {
    "fetch_state": {
        "source": "hf",
        "key": "2026-11-20",
        "etag": 'W/"abc"',
        "last_modified": "Fri, 20 Nov 2026 07:00:00 GMT",
        "fetched_at": "2026-11-20T07:00:01+00:00",
        "status": "ok",
        "error": None,
    },
}


def _cli(folder: Path, *args: str) -> str:
    env = {k: None for k in os.environ if k.startswith(("DIGEST_", "OPENAI_"))}
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database at the newest schema, written by the real commands."""
    folder = tmp_path_factory.mktemp("template")
    _cli(folder, "subscribe", READERS[0], "--name", "Ada")
    _cli(folder, "subscribe", READERS[1], "--tag", "llm", "--max-papers", "5")
    _cli(folder, "subscribe", "gone@example.org")
    _cli(folder, "unsubscribe", "gone@example.org")
    _cli(folder, "run", str(SENT_DUMP))
    _cli(folder, "ingest", str(LATER_DUMP))
    db = Database(folder / "digest.db")
    for table, row in EXTRA.items():
        db[table].insert(row)
    db.conn.close()
    return folder / "digest.db"


def _tables(db: Database) -> list[str]:
    """Tables that hold data (not the full-text index, which triggers maintain)."""
    return [t for t in db.table_names() if not t.startswith(("papers_fts", "_sqlite", "sqlite_"))]


def _rows(db: Database, table: str, columns: list[str]) -> list[dict]:
    order = ", ".join(f"[{c}]" for c in db[table].pks)
    cols = ", ".join(f"[{c}]" for c in columns)
    return [dict(r) for r in db.query(f"SELECT {cols} FROM [{table}] ORDER BY {order}")]


def build_old(template: Path, path: Path, stop_before: str) -> dict[str, list[dict]]:
    """A database with the migrations before `stop_before` only, holding the
    template's rows as far as that schema goes; returns what was put in."""
    source = Database(template)
    db = Database(path)
    migrations.apply(db, stop_before=stop_before)
    put: dict[str, list[dict]] = {}
    for table in _tables(db):
        if table not in source.table_names():
            continue
        columns = [c for c in db[table].columns_dict if c in source[table].columns_dict]
        rows = _rows(source, table, columns)
        db[table].insert_all(rows)
        put[table] = rows
    db.conn.close()
    source.conn.close()
    return put


def _emailed_titles(outbox: Path) -> list[str]:
    titles = []
    for path in sorted(outbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        titles.append(msg.get_body(preferencelist=("plain",)).get_content())
    return titles


@pytest.mark.parametrize("stop_before", STEPS[1:], ids=[f"from-{s[:4]}" for s in STEPS[:-1]])
def test_a_database_from_every_earlier_step_upgrades_with_every_row(
    template: Path, tmp_path: Path, stop_before: str
) -> None:
    put = build_old(template, tmp_path / "digest.db", stop_before)
    assert put["papers"], "every step has papers"

    db = open_db(tmp_path / "digest.db")
    assert not migrations.pending(db)
    for table, rows in put.items():
        if not rows:  # (a WITHOUT ROWID table has no rowid to select)
            assert db[table].count == 0, table
            continue
        assert _rows(db, table, list(rows[0])) == rows, table
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not db.execute("PRAGMA foreign_key_check").fetchall()
    fts = db.execute("SELECT count(*) FROM papers_fts").fetchone()[0]
    assert fts == db["papers"].count == len(put["papers"])
    if "subscribers" in put:
        for sub in db["subscribers"].rows:
            assert sub["active_since"] is not None
            assert (sub["frequency"], sub["match"]) == ("daily", "all")
    db.close()

    assert "Latent Refinement Decoding" in _cli(tmp_path, "papers", "--search", "refinement")
    assert "papers" in _cli(tmp_path, "status")
    if "delivered" in put:
        # Mailed before the upgrade means never mailed again: --force sends the later
        # dump's papers, none of the first's.
        _cli(tmp_path, "send", "--force")
        bodies = _emailed_titles(tmp_path / "outbox")
        assert len(bodies) == len(READERS)
        sent_before = {r["paper_id"] for r in put["delivered"]}
        titles = {r["id"]: r["title"] for r in put["papers"]}
        again = [titles[p] for p in sent_before for body in bodies if titles[p][:40] in body]
        assert again == []
        later = [e.paper.title[:40] for e in parse_dump(LATER_DUMP, [])]
        assert all(any(t in body for t in later) for body in bodies)


def test_a_database_with_two_pending_digests_for_one_reader_upgrades(
    template: Path, tmp_path: Path
) -> None:
    """Before m007 two racing sends could leave two pending digests for one reader;
    the unique index m007 adds made such a database impossible to open."""
    path = tmp_path / "digest.db"
    put = build_old(template, path, "m007_mail_delivery_papers")
    old = Database(path)
    ada = next(s["id"] for s in put["subscribers"] if s["email"] == READERS[0])
    old["delivered"].delete_where()
    old["deliveries"].delete_where()
    for n in (1, 2):
        old["deliveries"].insert(
            {
                "subscriber_id": ada,
                "message_id": f"<old-{n}@digest>",
                "digest_date": "2026-11-20",
                "status": "pending",
                "attempts": n,
                "created": f"2026-11-20T07:00:0{n}+00:00",
                "paper_count": 52,
            }
        )
    old.conn.close()

    db = open_db(path)
    statuses = [r["status"] for r in db.query("SELECT status FROM deliveries ORDER BY id")]
    assert statuses == ["superseded", "superseded"]
    db.close()
    # Their papers were never delivered: the next send mails them, in one digest each.
    _cli(tmp_path, "send")
    bodies = _emailed_titles(tmp_path / "outbox")
    assert len(bodies) == len(READERS)
    assert "Multi-modal Gaussian Process Variational" in bodies[0] + bodies[1]


def _snapshot(path: Path) -> tuple[list, dict[str, list]]:
    conn = sqlite3.connect(path)
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    tables = [r[1] for r in schema if r[0] == "table"]
    data = {t: sorted(map(repr, conn.execute(f"SELECT * FROM [{t}]"))) for t in tables}
    conn.close()
    return schema, data


def test_an_upgrade_that_fails_part_way_leaves_the_database_as_it_was(
    template: Path, tmp_path: Path, invoke
) -> None:
    """Every pending step runs in one transaction: m007 (which rewrites rows) and
    the steps after it are all undone when a later one fails."""
    path = tmp_path / "digest.db"
    build_old(template, path, "m007_mail_delivery_papers")
    old = Database(path)
    ada = old["subscribers"].rows_where("email = ?", [READERS[0]]).__next__()["id"]
    old["deliveries"].insert(
        {"subscriber_id": ada, "message_id": "<x@digest>", "status": "pending", "attempts": 1}
    )
    # A table in the way of a later step (as a hand-made table or a newer version would be).
    old.execute("CREATE TABLE link_lookups (note TEXT)")
    old.execute("INSERT INTO link_lookups VALUES ('mine')")
    old.conn.close()
    shutil.copy(path, tmp_path / "before.db")
    before = _snapshot(path)

    with pytest.raises(StoreError, match="was left as it was"):
        open_db(path)
    result = invoke("status")
    assert result.exit_code == 2  # the database cannot be used as it is
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert "upgrading the database digest.db failed" in result.stderr
    assert "nothing in it is lost" in result.stderr

    assert _snapshot(path) == before
    assert before[1]["_sqlite_migrations"], "the old steps are still recorded"


def test_every_written_step_is_applied_once_in_the_order_shipped() -> None:
    """The steps live in several modules; a step written but left out of the
    list would never run, and the order is the one databases in the field saw."""
    from digest.store.migrations import initial, later

    written = [
        name
        for module in (initial, later)
        for name in vars(module)
        if name[:1] == "m" and name[1:4].isdigit()
    ]
    assert sorted(STEPS) == sorted(written)
    assert STEPS == [
        "m001_papers",
        "m002_summaries",
        "m003_llm_calls",
        "m004_runs",
        "m005_mail",
        "m006_fetch_state",
        "m007_mail_delivery_papers",
        "m008_paper_links",
        "m009_fts_update_only_on_text",
        "m020_subscriber_cadence",
        "m021_link_lookups",
        "m030_web",
        "m050_llm_call_finish_reason",
        "m070_subscriber_last_sent",
        "m040_relevance",
        "m071_delivery_indexes",
        "m072_compact_deliveries",
        "m080_subscriber_paused",
        "m100_subscriber_held_back",
    ]

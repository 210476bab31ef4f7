"""Data and helpers shared by the email tests: a summarised library of seed
papers, settings pointed at a test server, and readers of what arrived."""

from __future__ import annotations

import re
import shutil
from email.message import EmailMessage
from pathlib import Path

import oracle
import pytest
from tests_support import SEEDS

from digest.backends import get_backend
from digest.config import Settings
from digest.sources.ingest import ingest_paths
from digest.store import open_db
from digest.summarize import pending_papers, summarize_papers

FIRST_DUMP = SEEDS / "001_f241505a523fd2a8.txt"  # 52 papers
LATER_DUMP = SEEDS / "003_03f71fdfc5ea1829.txt"  # 119 entries, 111 of them new after the first


@pytest.fixture(scope="session")
def library_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first seed dump, ingested and summarised offline once per session."""
    path = tmp_path_factory.mktemp("library") / "digest.db"
    add_papers(path, FIRST_DUMP)
    return path


@pytest.fixture
def library(library_template: Path, tmp_path: Path) -> Path:
    """A private copy of the summarised library: tests/<tmp>/digest.db."""
    return copy_library(library_template, tmp_path / "digest.db")


def add_papers(db_path: Path, dump: Path) -> None:
    """Ingest a dump and summarise what is new, offline."""
    db = open_db(db_path)
    reports = ingest_paths(db, [dump])
    if any(r.error for r in reports):
        raise RuntimeError(reports)
    backend = get_backend("offline", Settings())
    summarize_papers(db, backend, pending_papers(db, backend))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()


def copy_library(template: Path, target: Path) -> Path:
    shutil.copyfile(template, target)
    return target


def settings_for(db_path: Path, **email: object) -> Settings:
    settings = Settings(db=str(db_path))
    settings.email.from_ = "Paper digest <digest@example.org>"
    for key, value in email.items():
        setattr(settings.email, key, value)
    return settings


def expected_ids(
    db_path: Path,
    *,
    tags: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
    skip: set[int] | frozenset[int] = frozenset(),
    cap: int = 25,
) -> list[int]:
    """The papers a subscriber should get, worked out independently of the
    code under test (tests/oracle.py): every summarised paper, filtered in
    Python, best rank first."""
    out = [
        r["id"]
        for r in oracle.papers(db_path)
        if r["tldr"] is not None
        and r["id"] not in skip
        and (not tags or set(r["tags"]) & set(tags))
        and not set(r["tags"]) & set(exclude)
        and (not keywords or any(oracle.mentions(r, k) for k in keywords))
    ]
    return out[:cap]


def titles_of(db_path: Path, ids: list[int]) -> list[str]:
    db = open_db(db_path)
    rows = db.query("SELECT id, title FROM papers")
    by_id = {r["id"]: " ".join(r["title"].split()) for r in rows}
    return [by_id[i] for i in ids]


def listed_titles(message: EmailMessage) -> list[str]:
    """The paper titles of a digest, read from its plain-text part ("N. Title" lines)."""
    text = body(message, "plain")
    return [m.group(2) for m in re.finditer(r"^(\d+)\. (.+)$", text, re.MULTILINE)]


def body(message: EmailMessage, kind: str) -> str:
    """One part's text, with the CRLF line ends of the wire turned back into LF."""
    return message.get_body(preferencelist=(kind,)).get_content().replace("\r\n", "\n")


def delivered(db_path: Path, email: str) -> list[int]:
    db = open_db(db_path)
    return [
        r[0]
        for r in db.execute(
            "SELECT d.paper_id FROM delivered d JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE s.email = ? ORDER BY d.paper_id",
            [email],
        )
    ]

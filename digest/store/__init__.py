"""The store: one SQLite file, opened and migrated here; the only code that knows SQL.

Query functions live in submodules by subject (papers, summaries, ...); each
takes an open `sqlite_utils.Database`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from digest.errors import StoreError
from digest.store.migrations import migrations


def utcnow() -> str:
    """The store's timestamp format: UTC ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) and migrate the database at `path`.

    WAL lets `digest status` read while a run writes; the busy timeout lets a
    second process wait briefly for the write lock instead of failing at once.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"database path {path} is a folder: give a file name, e.g. digest.db")
    if path.parent != Path("") and not path.parent.exists():
        raise StoreError(
            f"folder {path.parent} for the database does not exist: create it or change --db"
        )
    try:
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        db = Database(conn)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA foreign_keys = ON")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} cannot be used as the digest database ({exc}): "
            "point --db / DIGEST_DB at another file"
        ) from exc
    return db


def open_memory() -> Database:
    """An in-memory, migrated database (tests, `digest tag --title`)."""
    db = Database(memory=True)
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db

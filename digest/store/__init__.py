"""The store: one SQLite file, opened and migrated here; the only code that knows SQL.

Query functions live in submodules by subject (papers, summaries, ...); each
takes an open `sqlite_utils.Database`.

Several processes share the file (cron, `serve`, an operator's command, the
web application), so every write transaction starts `BEGIN IMMEDIATE`: it
takes the write lock up front and waits out the busy timeout. A deferred
`BEGIN` that reads first and writes later cannot wait: in WAL mode its
upgrade fails at once when another process wrote in between.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.db import Table

from digest.errors import BusyError, StoreError
from digest.store.migrations import migrations

BUSY_TIMEOUT_S = 30.0
BUSY_MESSAGE = "the database is busy: another digest command is writing; try again"


def utcnow() -> str:
    """The store's timestamp format: UTC ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def inserted_id(table: Table) -> int:
    """The integer key of the row `table` has just inserted.

    sqlite-utils types `last_pk` as optional (a table can have no key); every
    table this store inserts into with it has an integer one.
    """
    if table.last_pk is None:
        raise StoreError(f"no key for the row just inserted into {table.name}")
    return int(table.last_pk)


class Store(Database):
    """A sqlite-utils Database whose transactions take the write lock at once.

    sqlite-utils itself (inserts, migrations) opens its transactions through
    `atomic()`, so overriding it here makes every write transaction IMMEDIATE.
    """

    read_only = False

    @contextlib.contextmanager
    def atomic(self) -> Generator[Database, None, None]:
        if self.conn.in_transaction:
            savepoint = f"sp_{secrets.token_hex(8)}"
            self.conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                raise
            else:
                self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise translate(exc) from exc
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


def translate(exc: sqlite3.Error) -> Exception:
    """An SQLite error in words: busy, read-only, full disk; others unchanged."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return BusyError(BUSY_MESSAGE)
    if "readonly" in text or "read-only" in text:
        return StoreError(
            "the database is read-only for this command: check the file's permissions"
        )
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError("the disk holding the database is full: free some space and try again")
    return exc


def open_db(
    path: str | Path, *, read_only: bool = False, busy_timeout: float = BUSY_TIMEOUT_S
) -> Database:
    """Open (creating if needed) and migrate the database at `path`.

    WAL lets `digest status` read while a run writes; the busy timeout lets a
    second process wait for the write lock instead of failing at once.
    With `read_only`, a database this user may only read (a read-only file
    or folder) is opened read-only instead of failing; nothing is created.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"database path {path} is a folder: give a file name, e.g. digest.db")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise StoreError(
            f"folder {folder} for the database does not exist: create it or change --db"
        )
    problem = _unwritable(path, folder)
    if problem and read_only and path.exists():
        return _open_read_only(path)
    if problem:
        raise StoreError(problem)
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None)
        db = Store(conn)
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        _migrate(db, path)
    except sqlite3.DatabaseError as exc:
        raise _in_words(
            exc,
            f"{path} cannot be used as the digest database ({exc}): "
            "point --db / DIGEST_DB at another file",
        ) from exc
    return db


def _migrate(db: Database, path: Path) -> None:
    """Apply pending migrations under the write lock, so two processes opening a
    fresh or old database at once never apply the same step twice.

    All pending steps run in one transaction: an upgrade that fails part-way
    leaves the file exactly as it was, and the message says so (the data is
    fine; it is this version of digest that cannot upgrade it).
    """
    if not migrations.pending(db):
        return
    try:
        with db.atomic():
            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise _in_words(
            exc,
            f"upgrading the database {path} failed ({exc}); it was left as it was and "
            "nothing in it is lost: keep the file, use it with the digest version that "
            "wrote it, and report this",
        ) from exc


def _in_words(exc: sqlite3.DatabaseError, otherwise: str) -> Exception:
    """`translate`'s one line for a known SQLite failure (busy, read-only, disk
    full), else a StoreError saying `otherwise`."""
    translated = translate(exc)
    return translated if translated is not exc else StoreError(otherwise)


def _unwritable(path: Path, folder: Path) -> str | None:
    """Why SQLite could not write here, in words, or None. Checked before
    connecting, so SQLite never creates -wal/-shm files with a broken mode."""
    if path.exists() and not _can(path, os.W_OK):
        return (
            f"the database {path} is read-only: make it writable (chmod u+w) "
            "or point --db at a copy"
        )
    if not _can(folder, os.W_OK | os.X_OK):
        return (
            f"the folder {folder} is not writable: SQLite needs to create files beside "
            "the database; make it writable or point --db elsewhere"
        )
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists() and not _can(side, os.W_OK):
            return f"{side} is read-only: make it writable (chmod u+w) or remove it"
    return None


def _can(path: Path, mode: int) -> bool:
    """Whether this process (its effective user, as SQLite will act) may do `mode`."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _open_read_only(path: Path) -> Database:
    """A database this user can only read, for commands that only read.

    `immutable=1` when the folder is read-only too: SQLite then cannot create
    the shared-memory file WAL readers normally need, and nobody can be
    writing to a database in a folder nobody may write to.
    """
    folder_ok = _can(path.parent if str(path.parent) else Path("."), os.W_OK)
    flags = "mode=ro" if folder_ok else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?{flags}",
            uri=True,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
        )
        db = Store(conn)
        db.read_only = True
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if migrations.pending(db):
            raise StoreError(
                f"the database {path} is read-only and needs an upgrade: "
                "run any command once with write access"
            )
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} cannot be read as the digest database ({exc})") from exc
    return db


def db_file(db: Database) -> Path | None:
    """The file behind an open database (None in memory): where its locks live."""
    for row in db.execute("PRAGMA database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2])
    return None


def open_memory() -> Database:
    """An in-memory, migrated database (tests, `digest tag --title`)."""
    db = Store(memory=True)
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db

"""Runs: one row per pass of the pipeline (or a single command), start to end.

A run left as `running` by a process that died is shown as such until the
next run, which marks it `interrupted`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlite_utils import Database

from digest.secrets import scrub
from digest.store import inserted_id, utcnow


def start_run(db: Database, kind: str, now: str | None = None) -> int:
    """Record the start of a run and return its id."""
    return inserted_id(
        db.table("runs").insert(
            {
                "kind": kind,
                "started": now or utcnow(),
                "status": "running",
                "pid": os.getpid(),
                "papers_new": 0,
                "summarised": 0,
                "fell_back": 0,
                "emails_sent": 0,
                "emails_failed": 0,
                "errors": "[]",
            }
        )
    )


def finish_run(
    db: Database,
    run_id: int,
    status: str,
    *,
    errors: list[str] | None = None,
    line: str | None = None,
    now: str | None = None,
    **counts: int,
) -> None:
    """Record how a run ended (ok | partial | failed | interrupted) and its counts."""
    values: dict[str, Any] = {"status": status, "ended": now or utcnow(), **counts}
    if errors is not None:
        values["errors"] = json.dumps([scrub(e) for e in errors])
    if line is not None:
        values["line"] = scrub(line)
    db.table("runs").update(run_id, values)


def mark_abandoned(db: Database, now: str | None = None) -> int:
    """Runs still `running` whose process is gone become `interrupted`."""
    abandoned = [
        r["id"]
        for r in db.query("SELECT id, pid FROM runs WHERE status = 'running'")
        if not process_alive(r["pid"])
    ]
    for run_id in abandoned:
        finish_run(db, run_id, "interrupted", now=now)
    return len(abandoned)


def last_run(db: Database, kind: str | None = None) -> dict[str, Any] | None:
    where, params = ("kind = ?", [kind]) if kind else ("1", [])
    rows = list(db.query(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT 1", params))
    if not rows:
        return None
    row = rows[0]
    row["errors"] = json.loads(row["errors"] or "[]")
    return row


def last_completed_run(db: Database, kind: str) -> dict[str, Any] | None:
    """The latest run of `kind` that ran to its end (ok, partial or failed).

    An interrupted run (killed, or stopped by SIGTERM) does not count: for the
    scheduler's catch-up it is a missed run, to be run again.
    """
    rows = list(
        db.query(
            "SELECT * FROM runs WHERE kind = ? AND status IN ('ok', 'partial', 'failed')"
            " ORDER BY id DESC LIMIT 1",
            [kind],
        )
    )
    return rows[0] if rows else None


def process_alive(pid: int | None) -> bool:
    """Whether the process that started a run still exists (on this machine)."""
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""`digest serve` as a real process: runs, refuses a twin, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from digest.store import open_db

# Real `digest serve` subprocesses: part of the full run, not of the fast loop.
pytestmark = pytest.mark.slow


def start_serve(*args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(condition, timeout: float = 180.0) -> bool:  # noqa: ANN001
    """Poll until `condition()`; the timeout is only a backstop for a hang (a loaded
    machine may take a minute over a run of the 540 seed papers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def read(sql: str) -> list[tuple]:
    """Rows from digest.db as another reader sees them while `serve` writes: a
    read-only connection, closed at once (no migration, no write lock taken)."""
    if not Path("digest.db").exists():
        return []
    conn = sqlite3.connect("file:digest.db?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the tables are not made yet
        return []
    finally:
        conn.close()


def last_run_status() -> str | None:
    rows = read("SELECT status FROM runs ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


def test_serve_runs_now_refuses_a_twin_and_stops_cleanly(invoke, seeds: Path) -> None:
    Path("digest.toml").write_text(
        f'[sources]\ndumps = ["{seeds}"]\n[schedule]\ncron = "0 7 * * *"\ntimezone = "UTC"\n',
        encoding="utf-8",
    )
    invoke("subscribe", "ada@example.org")
    first = start_serve("--run-now")
    try:
        assert wait_for(lambda: last_run_status() == "ok"), first.stderr
        assert len(list(Path("outbox").glob("*.eml"))) == 1
        twin = subprocess.run(
            [sys.executable, "-m", "digest", "serve"], capture_output=True, text=True, timeout=60
        )
        assert twin.returncode == 1
        assert "`digest serve` is already running for this database" in twin.stderr
        status = invoke("status").stdout
        assert "`digest serve` is running (pid" in status
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "next scheduled run:" in err and "T07:00+00:00" in err
    assert "stopped" in err
    assert "Traceback" not in err


def test_sigterm_during_a_run_records_it_interrupted_and_the_next_run_finishes(
    invoke, seeds: Path, tmp_path: Path
) -> None:
    from openai_server import FakeOpenAI, write_config

    with FakeOpenAI(latency=0.05) as fake:
        config = write_config(tmp_path, fake.url, concurrency=1)
        config.write_text(
            config.read_text(encoding="utf-8")
            + f'[sources]\ndumps = ["{seeds / "001_f241505a523fd2a8.txt"}"]\n'
            '[digest]\nmax_papers = 100\n[schedule]\ntimezone = "UTC"\n',
            encoding="utf-8",
        )
        invoke("subscribe", "ada@example.org")
        server = start_serve("--run-now")
        try:
            assert wait_for(lambda: fake.answered >= 5), server.stderr
        finally:
            server.send_signal(signal.SIGTERM)
            out, err = server.communicate(timeout=60)
        assert server.returncode == 0, err
        assert "stopping after the work in hand" in err
        assert last_run_status() == "interrupted"
        db = open_db("digest.db")
        done = db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0]
        assert 5 <= done < 52  # what was finished is kept
        assert not list(Path("outbox").glob("*.eml"))  # interrupted before sending
        answered = fake.answered

        finish = invoke("run")
        assert finish.exit_code == 0, finish.output
        assert "0 new papers" in finish.stdout and "1 email sent" in finish.stdout
        # Only the papers left were sent to the model: nothing finished is repeated.
        assert fake.answered - answered == 52 - done
    [message] = list(Path("outbox").glob("*.eml"))
    assert "52 papers" in message.read_text(encoding="utf-8")


def test_serve_catches_up_a_run_missed_while_the_machine_was_off_once(invoke, seeds: Path) -> None:
    Path("digest.toml").write_text(
        f'[sources]\ndumps = ["{seeds}"]\n[schedule]\ncron = "0 7 * * *"\ntimezone = "UTC"\n',
        encoding="utf-8",
    )
    invoke("subscribe", "ada@example.org")
    db = open_db("digest.db")
    # The last run was long ago: many scheduled runs were missed; one catch-up run is due.
    db["runs"].insert(
        {
            "kind": "run",
            "started": "2026-01-01T07:00:00+00:00",
            "ended": "2026-01-01T07:01:00+00:00",
            "status": "ok",
            "pid": 1,
        }
    )
    server = start_serve()
    try:
        assert wait_for(lambda: last_run_status() == "ok" and run_count() == 2), server.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert run_count() == 2  # one catch-up run, however many were missed
    assert err.count("missed the run due at") == 1
    assert "missed the run due at 2026-01-02T07:00" in err
    assert len(list(Path("outbox").glob("*.eml"))) == 1


def run_count() -> int:
    rows = read("SELECT COUNT(*) FROM runs")
    return rows[0][0] if rows else 0

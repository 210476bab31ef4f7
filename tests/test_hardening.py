"""Failures are failures, in one line, and lose nothing: busy and read-only
databases, broken templates, bad header values, secrets echoed by a server,
the digest day in the schedule's time zone, runs cut short by a kill."""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtp_server import BoundController, Handler

from digest.config import load_settings
from digest.errors import BusyError
from digest.pipeline import run_pass
from digest.store import open_db
from digest.store.runs import last_run

SEED = Path(__file__).resolve().parent.parent / "examples" / "dumps" / "001_f241505a523fd2a8.txt"


def _config(text: str) -> None:
    Path("digest.toml").write_text(text, encoding="utf-8")


def test_a_write_that_waits_too_long_for_the_lock_is_one_clear_error(tmp_path: Path) -> None:
    open_db(tmp_path / "digest.db").close()
    other = sqlite3.connect(tmp_path / "digest.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        db = open_db(tmp_path / "digest.db", busy_timeout=0.2)
        with pytest.raises(BusyError) as caught, db.atomic():
            db.execute("UPDATE runs SET status = status")
        assert str(caught.value) == (
            "the database is busy: another digest command is writing; try again"
        )
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_write_transactions_take_the_lock_up_front(tmp_path: Path) -> None:
    """A read-then-write transaction must not fail at once when another process
    writes in between (the deferred-BEGIN upgrade failure in WAL mode)."""
    db = open_db(tmp_path / "digest.db")
    with db.atomic():
        db.execute("SELECT COUNT(*) FROM papers").fetchone()
        writer = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3; c = sqlite3.connect('digest.db', timeout=0.3);"
                ' c.execute(\'INSERT INTO runs (kind, status) VALUES ("x", "ok")\'); c.commit()',
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        db.execute("INSERT INTO runs (kind, status) VALUES ('mine', 'ok')")
    assert "database is locked" in writer.stderr  # the other process had to wait: we held it
    assert db.execute("SELECT kind FROM runs").fetchall() == [("mine",)]


@contextlib.contextmanager
def _as_nobody():
    """Act as an unprivileged user in this process (root ignores file modes).

    Modules are imported before: the unprivileged user may not be able to read
    the Python installation (e.g. under /root), and a failed codec lookup sticks.
    """
    if os.geteuid() != 0:
        yield
        return
    import encodings.ascii  # noqa: F401
    import encodings.idna  # noqa: F401

    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_a_database_this_user_may_only_read_serves_reads_and_refuses_writes_in_one_line(
    invoke,
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="digest-ro-"))
    try:
        os.chdir(folder)
        assert invoke("ingest", str(SEED)).exit_code == 0
        assert invoke("subscribe", "ada@example.org").exit_code == 0
        assert invoke("status").exit_code == 0  # imports everything the reads need
        open_db("digest.db").execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for side in ("digest.db-wal", "digest.db-shm"):
            Path(side).unlink(missing_ok=True)
        folder.chmod(0o555)
        Path("digest.db").chmod(0o444)
        with _as_nobody():
            status = invoke("status")
            listed = invoke("papers", "--limit", "3", "--json")
            write = invoke("subscribe", "bob@example.org")
        assert status.exit_code == 0, status.output
        assert len(json.loads(listed.stdout)) == 3
        assert write.exit_code == 2
        assert write.stderr.startswith("Error: the database digest.db is read-only")
        assert len(write.stderr.splitlines()) == 1
        assert sorted(p.name for p in folder.iterdir()) == ["digest.db"]  # nothing created
    finally:
        folder.chmod(0o755)
        Path(folder, "digest.db").chmod(0o644)


def test_a_read_only_folder_is_named_for_a_command_that_writes(invoke) -> None:
    folder = Path(tempfile.mkdtemp(prefix="digest-ro-"))
    try:
        os.chdir(folder)
        assert invoke("--db", "warm.db", "ingest", str(SEED)).exit_code == 0  # imports
        for made in folder.iterdir():
            made.unlink()
        folder.chmod(0o555)
        with _as_nobody():
            result = invoke("ingest", str(SEED))
        assert result.exit_code == 2
        assert result.stderr == (
            f"Error: the folder {Path('.')} is not writable: SQLite needs to create files beside"
            " the database; make it writable or point --db elsewhere\n"
        )
    finally:
        folder.chmod(0o755)


def test_a_template_that_breaks_while_rendering_fails_the_run_but_not_the_other_steps(
    invoke, tmp_path: Path
) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "email.txt.j2").write_text("{{ papers | length // 0 }}\n", encoding="utf-8")
    _config(f'[sources]\ndumps = ["{SEED}"]\n[digest]\ntemplates_dir = "{own}"\n')
    invoke("subscribe", "ada@example.org")
    result = invoke("run")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: send: unexpected error: ZeroDivisionError" in result.stderr
    assert len(list(Path("digests").glob("*.md"))) == 1  # the step after it still ran
    run = last_run(open_db("digest.db"), "run")
    assert run is not None and run["status"] == "failed"
    assert any("ZeroDivisionError" in e for e in run["errors"])
    assert "failed" in invoke("status").stdout


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '[digest]\ntitle = """Papers\nBcc: all@example.org"""\n',
            "[digest] title must be one line",
        ),
        ('[email]\nfrom = "nobody"\n', "[email] from = 'nobody' is not an address"),
        (
            '[email]\nlist_unsubscribe = "javascript:alert(1)"\n',
            "[email] list_unsubscribe = 'javascript:alert(1)' is not a mailto:",
        ),
    ],
)
def test_header_values_are_checked_before_anything_runs(invoke, config: str, message: str) -> None:
    _config(f'[sources]\ndumps = ["{SEED}"]\n' + config)
    for args in (("run",), ("send", "--check"), ("send",)):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not Path("digest.db").exists()


def test_a_server_echoing_the_login_never_leaks_the_password(invoke) -> None:
    password, user = "hunter2-very-secret", "digest"
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()

    def echo(server, session, envelope, mechanism, data):  # noqa: ANN001
        assert isinstance(data, LoginPassword)
        return AuthResult(
            success=False,
            handled=False,
            message=f"535 5.7.8 rejected {data.login.decode()}/{data.password.decode()} {plain}",
        )

    controller = BoundController(Handler(), authenticator=echo, auth_require_tls=False)
    port = controller.port
    controller.start()
    try:
        _config(
            f'[sources]\ndumps = ["{SEED}"]\n[email]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\n'
            f'smtp_port = {port}\nsecurity = "none"\nusername = "{user}"\n'
        )
        env = {"DIGEST_SMTP_PASSWORD": password}
        invoke("subscribe", "ada@example.org")
        check = invoke("send", "--check", env=env)
        run = invoke("-v", "run", env=env)
    finally:
        controller.stop()
    assert check.exit_code == 1 and "rejected the login" in check.stderr
    assert run.exit_code == 1
    dump = "\n".join(open_db("digest.db").iterdump())
    for text in (check.output, run.output, dump):
        assert password not in text and plain not in text
    assert "[secret]" in check.stderr


def test_the_digest_day_is_the_date_where_the_schedule_runs(tmp_path: Path) -> None:
    _config(
        f'[sources]\ndumps = ["{SEED}"]\n[schedule]\ntimezone = "Australia/Sydney"\n'
        '[[subscribers]]\nemail = "ada@example.org"\n'
    )
    settings = load_settings()
    db = open_db("digest.db")
    morning_in_sydney = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)  # 22 Nov, 07:00 AEDT
    report = run_pass(db, settings, now=morning_in_sydney)
    assert report.day == "2026-11-22"
    assert Path("digests/2026-11-22.md").exists()
    (eml,) = Path("outbox").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert "22 Nov" in msg["Subject"] or "2026-11-22" in msg["Subject"], msg["Subject"]
    row = db.execute("SELECT digest_date FROM deliveries").fetchone()
    assert row == ("2026-11-22",)


def test_several_runs_on_one_day_send_each_reader_one_email(invoke) -> None:
    _config(f'[sources]\ndumps = ["{SEED}"]\n[digest]\nmax_papers = 5\n')
    invoke("subscribe", "ada@example.org")
    outputs = [invoke("run") for _ in range(3)]
    assert [r.exit_code for r in outputs] == [0, 0, 0]
    assert len(list(Path("outbox").glob("*.eml"))) == 1
    assert "already sent the digest of" in outputs[-1].stdout
    forced = invoke("send", "--force")
    assert "sent 5 papers" in forced.stdout  # the operator's override: the next five


def test_papers_json_says_which_summaries_are_fallbacks(invoke) -> None:
    invoke("ingest", str(SEED))
    db = open_db("digest.db")
    from digest.summarize import fall_back_offline, unsummarised_at_all

    fall_back_offline(
        db, load_settings().tags, unsummarised_at_all(db)[:2], failed="openai:gpt-x", reason="503"
    )
    listed = json.loads(invoke("papers", "--limit", "100", "--json").stdout)
    flagged = [p for p in listed if p["fallback"]]
    assert len(flagged) == 2
    assert {p["fallback_from"] for p in flagged} == {"openai:gpt-x"}
    assert all(p["fallback_from"] is None for p in listed if not p["fallback"])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow
def test_serve_reruns_a_scheduled_run_that_was_killed_with_it(invoke) -> None:
    _config(f'[sources]\ndumps = ["{SEED}"]\n[schedule]\ncron = "0 7 * * *"\ntimezone = "UTC"\n')
    invoke("subscribe", "ada@example.org")
    db = open_db("digest.db")
    today = datetime.now(UTC).date().isoformat()
    # Yesterday's run went fine; today's scheduled run died with its `serve` (SIGKILL).
    db["runs"].insert_all(
        [
            {"kind": "run", "started": "2026-01-01T07:00:00+00:00", "status": "ok", "pid": 1},
            {
                "kind": "run",
                "started": f"{today}T00:00:00+00:00",
                "status": "running",
                "pid": _dead_pid(),
            },
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    server = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(Path("outbox").glob("*.eml")):
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert len(list(Path("outbox").glob("*.eml"))) == 1
    statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY id")]
    assert statuses[:2] == ["ok", "interrupted"] and statuses[2] == "ok"

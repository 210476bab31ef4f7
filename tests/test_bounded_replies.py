"""Replies are bounded: every request carries max_tokens ([llm] max_output_tokens),
and a reply the server cut at that bound is an invalid reply, repaired once, then
a labelled fallback. The call log keeps why each reply ended."""

from __future__ import annotations

import pytest
from openai_server import FakeOpenAI, title_of, write_config

from digest.store import open_db


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def rows(sql: str) -> list[dict]:
    return list(open_db("digest.db").query(sql))


def test_every_request_carries_the_default_bound_and_the_log_keeps_the_finish_reason(
    invoke, seeded, fake, tmp_path
):
    write_config(tmp_path, fake.url)

    assert invoke("summarize", "--limit", "3").exit_code == 0

    assert [r["max_tokens"] for r in fake.requests] == [400, 400, 400]
    calls = rows("SELECT status, finish_reason, output_tokens FROM llm_calls")
    assert [(c["status"], c["finish_reason"]) for c in calls] == [("ok", "stop")] * 3
    assert all(0 < c["output_tokens"] <= 400 for c in calls)


def test_a_reply_cut_at_the_bound_is_repaired_once_then_a_labelled_fallback(
    invoke, seeded, fake, tmp_path
):
    write_config(tmp_path, fake.url, max_output_tokens=20)

    result = invoke("summarize", "--limit", "1")

    assert result.exit_code == 1
    assert [r["max_tokens"] for r in fake.requests] == [20, 20]  # the reply and its repair
    assert len({title_of(r) for r in fake.requests}) == 1
    calls = rows("SELECT status, finish_reason, output_tokens, error FROM llm_calls")
    assert [(c["status"], c["finish_reason"]) for c in calls] == [("invalid", "length")] * 2
    assert all(c["output_tokens"] <= 20 for c in calls)
    assert calls[0]["error"] == "cut off at 20 tokens; keep the reply shorter"
    summary = rows("SELECT backend, fallback_from, error FROM summaries")[0]
    assert summary == {
        "backend": "offline",
        "fallback_from": "openai:test-model",
        "error": "invalid reply, also after a repair attempt: "
        "cut off at 20 tokens; keep the reply shorter",
    }


def test_max_output_tokens_must_be_positive(invoke, tmp_path):
    write_config(tmp_path, "http://127.0.0.1:9/v1", max_output_tokens=0)

    result = invoke("summarize")

    assert result.exit_code == 2
    assert "[llm] max_output_tokens must be greater than 0" in result.stderr

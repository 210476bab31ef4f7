"""Every model call belongs to a run, whichever command made it: `digest build` and
`digest tag` summarise papers that lack a summary, and `digest status` shows it."""

from __future__ import annotations

import pytest
from openai_server import FakeOpenAI, write_config

from digest.store import open_db


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def rows(sql: str) -> list[dict]:
    return list(open_db("digest.db").query(sql))


@pytest.mark.parametrize(
    ("command", "kind"), [(("build", "--limit", "2"), "build"), (("tag", "1", "2"), "tag")]
)
def test_calls_made_by_build_and_tag_are_attributed_to_a_run_of_that_kind(
    invoke, seeded, fake, tmp_path, command, kind
):
    write_config(tmp_path, fake.url)

    result = invoke(*command)

    assert result.exit_code == 0, result.stderr
    runs = rows("SELECT id, kind, status, summarised, line FROM runs")
    assert [(r["kind"], r["status"], r["summarised"]) for r in runs] == [(kind, "ok", 2)]
    assert runs[0]["line"].startswith("summarised 2 papers with openai (test-model); 2 calls")
    calls = rows("SELECT run_id FROM llm_calls")
    assert [c["run_id"] for c in calls] == [runs[0]["id"]] * 2
    status = invoke("status").stdout
    assert f"last run #{runs[0]['id']} ({kind}, " in status
    assert "2 calls" in status


def test_a_command_with_nothing_to_summarise_records_no_run(invoke, seeded, fake, tmp_path):
    write_config(tmp_path, fake.url)
    invoke("tag", "1")

    invoke("tag", "1")

    assert len(rows("SELECT id FROM runs")) == 1


def test_a_build_stopped_by_a_setup_problem_records_a_failed_run(invoke, seeded, fake, tmp_path):
    write_config(tmp_path, fake.url)
    fake.every = "401"

    result = invoke("build", "--limit", "2")

    assert result.exit_code == 1
    run = rows("SELECT kind, status, errors FROM runs")[0]
    assert (run["kind"], run["status"]) == ("build", "failed")
    assert "rejected the API key" in run["errors"]

"""The command line as a user meets it: help, config errors, tags, listings, status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests_support import REPO

from digest.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example_and_is_in_the_readme(invoke, name: str) -> None:
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"digest {name}" in (REPO / "README.md").read_text(encoding="utf-8")


def test_short_help_flag_and_version(invoke) -> None:
    assert invoke("-h").exit_code == 0
    assert invoke("--version").stdout.startswith("digest, version ")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[llm]\nmodle = 'x'\n", "unknown key [llm] modle (did you mean 'model'?)"),
        ("[llm]\nconcurrency = 'eight'\n", "[llm] concurrency must be int"),
        ("[llm]\nconcurrency = 0\n", "[llm] concurrency must be greater than 0"),
        (
            "[email]\nsecurity = 'tls'\n",
            "[email] security = 'tls' is not one of: starttls, ssl, none",
        ),
        ("[digest\n", "not valid TOML"),
        ("[tags]\n'two words' = 'x'\n", "is not a tag name"),
        ("colour = 'blue'\n", "unknown key 'colour'"),
        ("db = 5\n", "db must be str, not int 5"),
        ("[email]\nsmtp_port = 99999\n", "[email] smtp_port 99999 is not a port number"),
        ("[llm]\ntemperature = 9\n", "[llm] temperature must be between 0 and 2"),
        ("[llm]\nmax_cost_per_run = -1\n", "[llm] max_cost_per_run must be 0 or more"),
        ("[llm]\napi_key_env = ''\n", "[llm] api_key_env must name an environment variable"),
        (
            "[llm]\nbackend = 'openai'\nbase_url = 'http://256.1.1.1/v1'\n",
            "256.1.1.1 is not an IPv4 address",
        ),
        ("[sources]\nhf_base_url = 'ftp://x'\n", "is not a usable URL: use http:// or https://"),
        ("[web]\nport = '8080'\n", "[web] port must be int, not str '8080'"),
        (
            '[llm]\nlanguage = """English.\nIgnore all"""\n',
            "[llm] language must be one line of 1 to 40 characters",
        ),
    ],
)
def test_config_mistakes_get_one_line_and_exit_2(invoke, toml: str, message: str) -> None:
    Path("digest.toml").write_text(toml, encoding="utf-8")
    result = invoke("status")
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_config_file_is_named(invoke) -> None:
    result = invoke("--config", "nope.toml", "status")
    assert result.exit_code == 2
    assert "config file nope.toml not found" in result.stderr


def test_unknown_backend_says_which_exist(invoke, seeds: Path) -> None:
    Path("digest.toml").write_text("[llm]\nbackend = 'claude'\n", encoding="utf-8")
    result = invoke("summarize")
    assert result.exit_code == 2
    assert "[llm] backend = 'claude' is not one of: offline, openai" in result.stderr


def test_tag_a_paper_given_on_the_command_line_without_storing_it(invoke) -> None:
    result = invoke(
        "tag",
        "--json",
        "--title",
        "Denoising Diffusion Models for Images",
        "--abstract",
        "We propose a diffusion model for image generation. It improves FID on ImageNet.",
    )
    out = json.loads(result.stdout)
    assert "diffusion" in out["tags"] and 1 <= len(out["tags"]) <= 5
    assert not Path("digest.db").exists()


def test_tag_reads_json_from_stdin_and_rejects_garbage(invoke) -> None:
    good = invoke(
        "tag",
        "--stdin",
        "--json",
        input=json.dumps(
            {
                "title": "Sparse autoencoders find interpretable features",
                "abstract": "We train sparse autoencoders on LLM activations and probe features.",
            }
        ),
    )
    assert good.exit_code == 0
    assert "interpretability" in json.loads(good.stdout)["tags"]
    title_only = invoke("tag", "--stdin", "--json", input=json.dumps({"title": "Graph networks"}))
    assert title_only.exit_code == 0 and json.loads(title_only.stdout)["tags"]
    bad = invoke("tag", "--stdin", input="not json")
    assert bad.exit_code == 2 and "standard input is not JSON" in bad.stderr  # a usage error


def test_tag_stored_papers_prints_and_stores_tags(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds / "001_f241505a523fd2a8.txt"))
    result = invoke("tag", "1", "2", "--json")
    out = json.loads(result.stdout)
    assert [r["id"] for r in out] == [1, 2] and all(r["tags"] for r in out)
    listed = json.loads(invoke("papers", "--json", "--limit", "2").stdout)
    assert [p["tags"] for p in listed] == [r["tags"] for r in out]
    missing = invoke("tag", "999")
    assert missing.exit_code == 2 and "no paper with id 999" in missing.stderr


def test_papers_json_has_the_documented_fields(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds))
    invoke("summarize")
    rows = json.loads(invoke("papers", "--json", "--limit", "5").stdout)
    assert len(rows) == 5
    for key in (
        "id",
        "title",
        "abstract",
        "tags",
        "tldr",
        "summary",
        "backend",
        "model",
        "first_seen",
        "rank",
        "arxiv_id",
        "url",
        "authors",
        "upvotes",
    ):
        assert key in rows[0]
    assert rows[0]["backend"] == "offline" and rows[0]["rank"] == 1


def test_papers_filter_by_tag_and_search(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds))
    invoke("summarize")
    diffusion = json.loads(
        invoke("papers", "--tag", "diffusion", "--json", "--limit", "500").stdout
    )
    assert diffusion and all("diffusion" in p["tags"] for p in diffusion)
    found = json.loads(invoke("papers", "--search", "sparse autoencoders", "--json").stdout)
    assert found and all("sparse" in (p["title"] + p["abstract"]).lower() for p in found)
    # FTS syntax in a query is searched for as words, never parsed.
    odd = invoke("papers", "--search", 'NEAR( "unbalanced* OR', "--json")
    assert odd.exit_code == 0 and json.loads(odd.stdout) == []


def test_summarize_twice_does_nothing_the_second_time(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds))
    first = invoke("summarize")
    assert "summarised 540 papers with offline" in first.stdout
    second = invoke("summarize")
    assert "nothing to summarise" in second.stdout


def test_status_counts_papers_summaries_and_sources(invoke, seeds: Path) -> None:
    invoke("ingest", str(seeds))
    invoke("summarize", "--limit", "40")
    out = invoke("status").stdout
    assert "540 papers from 4 sources (632 sightings)" in out
    assert "40 summarised, 500 waiting" in out


def test_the_environment_beats_the_config_file(invoke) -> None:
    from digest.config import load_settings

    Path("digest.toml").write_text("[llm]\nbase_url = 'http://file.example/v1'\n", "utf-8")
    settings = load_settings(env={"OPENAI_BASE_URL": "http://env.example/v1"})
    assert settings.llm.base_url == "http://env.example/v1"
    assert load_settings(env={}).llm.base_url == "http://file.example/v1"
    assert load_settings(env={"DIGEST_DB": "x.db"}, db="y.db").db == "y.db"  # options beat both


def test_a_bad_value_from_the_environment_is_blamed_on_the_environment(invoke) -> None:
    result = invoke("status", env={"DIGEST_BACKEND": "bogus"})
    assert result.exit_code == 2
    assert "[llm] backend (from DIGEST_BACKEND) = 'bogus' is not one of" in result.stderr
    # A stray OPENAI_BASE_URL does not break commands that never call a model...
    assert invoke("status", env={"OPENAI_BASE_URL": "not a url"}).exit_code == 0
    # ...and is named when a model is asked for.
    used = invoke("tag", "--backend", "openai", "--title", "X", env={"OPENAI_BASE_URL": "nope"})
    assert used.exit_code == 2
    assert "[llm] base_url (from OPENAI_BASE_URL) 'nope' is not a usable URL" in used.stderr

"""The settings model: every value is checked once, when the settings load, and a
wrong one is said in one line naming the key and where its value came from."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

from digest.config import TABLES, SourcesConfig, load_settings
from digest.config.fields import TEMPLATE_FILTERS
from digest.errors import ConfigError


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[llm]\n# how many at once\nconcurrency = 0\n",
            "digest.toml:3: [llm] concurrency must be",
        ),
        (
            'db = "x.db"\n[email]\nbackend = "smtp"\n',
            'digest.toml:3: [email] backend = "smtp" needs',
        ),
        ("[sources]\narxiv_categories = ['cs LG']\n", "digest.toml:2: [sources] arxiv_categories"),
        ('[schedule]\ntimezone = "Mars/Base"\n', "digest.toml:2: [schedule] timezone 'Mars/Base'"),
        ('[web]\npublic_url = "https://x.org/?a=1"\n', "digest.toml:2: [web] public_url"),
        (
            "[llm]\nrequests_per_minute = 0\n",
            "digest.toml:2: [llm] requests_per_minute must be greater than 0 (or left out)",
        ),
        (
            '[digest]\ntemplates_dir = "nowhere"\n',
            "digest.toml:2: [digest] templates_dir 'nowhere' is not a folder",
        ),
        ("llm = 3\n", "digest.toml:1: [llm] must be a table"),
        (
            "[email]\nsmtp_hots = 'x'\n",
            "digest.toml:2: unknown key [email] smtp_hots (did you mean",
        ),
    ],
)
def test_a_wrong_value_in_the_file_names_its_line(invoke, toml: str, message: str) -> None:
    Path("digest.toml").write_text(toml, encoding="utf-8")
    result = invoke("status")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


BAD_VALUES = (-5, 0, 2.5, "", "x\ny", "ftp://x", True, [1, 2], ["a b"], {"k": 1})


@pytest.mark.parametrize("table", sorted(TABLES))
def test_no_value_of_any_key_gets_past_as_anything_but_one_line(tmp_path: Path, table: str) -> None:
    """pydantic's own multi-line report never reaches the user: every key, every kind of
    wrong value, is a ConfigError of one line that names the key, or a value the key takes."""
    for field, info in TABLES[table].model_fields.items():
        key = info.alias or field
        for value in BAD_VALUES:
            config = tmp_path / "d.toml"
            config.write_text(f"[{table}]\n{key} = {_toml(value)}\n", encoding="utf-8")
            try:
                load_settings(str(config), env={})
            except ConfigError as exc:
                text = str(exc)
                assert "\n" not in text.replace("\\n", ""), text
                assert text.startswith(f"{config}:2: [{table}] {key} "), text
            # a value the key takes is fine: nothing more to check


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


def test_backend_option_goes_through_the_same_loader_and_checks(invoke) -> None:
    Path("digest.toml").write_text('[llm]\nmodel = " "\n', encoding="utf-8")
    assert invoke("status").exit_code == 0  # the offline backend needs no model name
    used = invoke("tag", "--backend", "openai", "--title", "X")
    assert used.exit_code == 2
    assert "digest.toml:2: [llm] model is empty" in used.stderr
    # The option beats the environment, so a bogus DIGEST_BACKEND is never used.
    fine = invoke("tag", "--backend", "offline", "--title", "X", env={"DIGEST_BACKEND": "bogus"})
    assert fine.exit_code == 0, fine.stderr


def test_an_option_is_named_as_the_origin_of_its_value() -> None:
    with pytest.raises(ConfigError, match=r"^\[llm\] backend \(from --backend\) = 'x' is not"):
        load_settings(env={}, **{"llm.backend": "x"})
    with pytest.raises(ConfigError, match=r"^db \(from --db\) must be str, not int 5"):
        load_settings(env={"DIGEST_DB": "x.db"}, db=5)


def test_a_command_that_sends_needs_its_secrets_before_anything_starts(invoke, seeds) -> None:
    Path("digest.toml").write_text(
        f'[sources]\ndumps = ["{seeds}"]\n[web]\npublic_url = "https://papers.example.org"\n',
        encoding="utf-8",
    )
    run = invoke("run")
    assert run.exit_code == 2 and "set DIGEST_WEB_SECRET to a random key" in run.stderr
    assert not Path("digest.db").exists()
    assert invoke("status").exit_code == 0  # reading needs no signing key
    Path("digest.toml").write_text(
        '[email]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\nusername = "ada"\n', encoding="utf-8"
    )
    sent = invoke("send")
    assert sent.exit_code == 2 and "$DIGEST_SMTP_PASSWORD is empty" in sent.stderr


def test_tables_built_in_code_are_checked_the_same_way() -> None:
    with pytest.raises(ConfigError, match=r"^\[sources\] timeout must be float, not str 'x'$"):
        SourcesConfig(timeout="x")


def test_a_template_that_does_not_compile_is_found_when_the_settings_load(tmp_path: Path) -> None:
    (tmp_path / "email.html.j2").write_text("{{ title | nosuchfilter }}\n", encoding="utf-8")
    config = tmp_path / "d.toml"
    config.write_text(f'[digest]\ntemplates_dir = "{tmp_path}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"email.html.j2 line 1: No filter named 'nosuchfilter'"):
        load_settings(str(config), env={})


def test_the_template_check_knows_every_filter_our_templates_may_use() -> None:
    from digest.render import environment

    ours = set(environment().filters) - set(jinja2.Environment().filters)
    assert ours | {"wordwrap"} == set(TEMPLATE_FILTERS)

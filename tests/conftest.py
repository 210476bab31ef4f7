"""Hermetic tests: every test runs in its own folder with its own database,
and no setting leaks in from the machine's environment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from payload_server import PayloadServer
from tests_support import SEEDS

from digest.cli import cli
from digest.store import open_db

_ENV_PREFIXES = ("DIGEST_", "OPENAI_")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the seed dumps (tests may add files next to them)."""
    target = tmp_path / "dumps"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def db(tmp_path: Path):
    """The CLI's default database (digest.db in the test's folder), opened and migrated."""
    database = open_db(tmp_path / "digest.db")
    yield database
    database.close()


@pytest.fixture
def server():
    """A loopback HTTP server serving the recorded Hugging Face and arXiv payloads."""
    with PayloadServer() as running:
        yield running


@pytest.fixture
def invoke():
    """Run the CLI in-process; returns click's Result (stdout and stderr apart)."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return run

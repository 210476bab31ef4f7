"""Hermetic tests: every test runs in its own folder with its own database,
and no setting leaks in from the machine's environment."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Iterator
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


# Names that never leave this machine (RFC 6761: .invalid and .test are never
# resolved on the internet; a lookup of one fails as it would in real life).
_LOCAL_NAMES = ("localhost", "")
_RESERVED_SUFFIXES = (".invalid", ".test", ".localhost")


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never call the internet: a name lookup in the test process for a
    host elsewhere fails at once, and the test fails after it ran, naming the
    host (a default base URL left in a test's config is the usual cause).
    Addresses given as numbers need no lookup and are left alone."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        name = (host.decode() if isinstance(host, bytes) else host or "").lower().rstrip(".")
        try:
            ipaddress.ip_address(name.split("%")[0])
        except ValueError:
            if name not in _LOCAL_NAMES and not name.endswith(_RESERVED_SUFFIXES):
                asked.append(name)
                raise socket.gaierror(socket.EAI_NONAME, f"tests never look up {name}") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    yield
    assert not asked, f"the test tried to reach {sorted(set(asked))}: use a loopback server"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the seed dumps (tests may add files next to them)."""
    target = tmp_path / "dumps"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed dumps ingested once per session (what `digest ingest` of them makes)."""
    from digest.sources.ingest import ingest_paths

    path = tmp_path_factory.mktemp("seeded") / "digest.db"
    database = open_db(path)
    reports = ingest_paths(database, [SEEDS])
    if any(r.error for r in reports):
        raise RuntimeError(f"the seed dumps did not ingest: {reports}")
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file to copy
    database.close()
    return path


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Path:
    """digest.db in the test's folder holding the 540 seed papers, not yet summarised:
    a private copy of the session's template, for tests whose subject comes after
    ingesting (tests of ingesting itself run `digest ingest`)."""
    return Path(shutil.copyfile(seeded_template, tmp_path / "digest.db"))


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

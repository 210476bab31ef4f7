"""Two digest commands on one database at once, as cron, `serve` and an operator do.

Every test here races real `python -m digest` subprocesses on one database
file, for at least 10 rounds, and checks from outside (the outbox files, the
model server's request log) that nothing was done twice and nothing failed.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from openai_server import FakeOpenAI, title_of, write_config
from tests_support import REPO

from digest.store import open_db

pytestmark = pytest.mark.slow
ROUNDS = 10


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["OPENAI_API_KEY"] = "sk-race-test-key"
    return env


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def _fresh_dump(folder: Path, round_no: int, papers: int) -> Path:
    """A dump of `papers` papers nobody has seen, in the compact layout."""
    folder.mkdir(exist_ok=True)
    lines = []
    for n in range(papers):
        lines.append(f"Round {round_no} Paper {n}: Sparse Mixtures for Graph Diffusion {n}")
        lines.append(
            f"We study sparse mixtures in round {round_no}, item {n}. "
            "Our method improves graph diffusion models on three benchmarks."
        )
    path = folder / f"{round_no:03d}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _titles_per_reader() -> Counter[tuple[str, str]]:
    """(reader, paper title) over every message in the outbox: read from the mail itself."""
    seen: Counter[tuple[str, str]] = Counter()
    for path in sorted(Path("outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        for line in text.splitlines():
            if "Round " in line and " Paper " in line and ":" in line:
                start = line.index("Round ")
                seen[(str(msg["To"]), line[start:].strip())] += 1
    return seen


def test_two_senders_at_once_never_mail_a_paper_twice(invoke, tmp_path: Path) -> None:
    """`send` against `send`, and `run` against `send`: the loser waits, then finds
    the papers delivered; no paper twice, no traceback, no 'database is locked'."""
    for reader in ("ada@example.org", "bob@example.org", "cy@example.org"):
        assert invoke("subscribe", reader).exit_code == 0
    dumps = tmp_path / "dumps"
    for round_no in range(ROUNDS):
        invoke("ingest", str(_fresh_dump(dumps, round_no, 4)))
        invoke("summarize")
        pair = ("send", "--force") if round_no % 2 else ("run", "--force")
        first, second = _start(*pair), _start("send", "--force")
        results = [_finish(first), _finish(second)]
        for code, output in results:
            assert code == 0, output
            assert "Traceback" not in output and "locked" not in output, output
    mailed = _titles_per_reader()
    assert mailed, "no message listed a paper"
    assert max(mailed.values()) == 1, [k for k, v in mailed.items() if v > 1]
    # every fresh paper reached every reader exactly once
    assert len(mailed) == 3 * ROUNDS * 4


def test_summarise_and_run_at_once_pay_the_model_once_per_paper(tmp_path: Path) -> None:
    with FakeOpenAI(latency=0.02) as fake:
        write_config(tmp_path, fake.url, concurrency=2)
        dumps = tmp_path / "dumps"
        for round_no in range(ROUNDS):
            assert _finish(_start("ingest", str(_fresh_dump(dumps, round_no, 5))))[0] == 0
            before = len(fake.requests)
            runner, summariser = _start("run"), _start("summarize")
            for code, output in (_finish(runner), _finish(summariser)):
                assert code == 0, output
                assert "Traceback" not in output, output
            asked = Counter(title_of(r) for r in fake.requests[before:])
            assert len(asked) == 5 and max(asked.values()) == 1, asked
    db = open_db("digest.db")
    assert (
        db.execute("SELECT COUNT(*) FROM summaries WHERE model = 'test-model'").fetchone()[0]
        == 5 * ROUNDS
    )


def test_subscribe_waits_for_a_writer_instead_of_crashing(tmp_path: Path) -> None:
    """A writer holding the write lock (as a run does while committing) makes
    `subscribe` wait; the subscription is saved, with no traceback."""
    open_db("digest.db").close()
    holder_code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect('digest.db', isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        'c.execute("UPDATE runs SET status = status")\n'
        "print('holding', flush=True)\n"
        "time.sleep(float(sys.argv[1]))\n"
        "c.execute('COMMIT')\n"
    )
    for round_no in range(ROUNDS):
        holder = subprocess.Popen(
            [sys.executable, "-c", holder_code, "0.6"], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        code, output = _finish(_start("subscribe", f"reader{round_no}@example.org"))
        holder.wait(timeout=30)
        holder.stdout.close()
        assert code == 0 and "Traceback" not in output, output
    db = open_db("digest.db")
    assert db["subscribers"].count == ROUNDS

"""What a chaos run works on: the dumps it adds, its config, and reads of its store.

The config points `digest run` at the two loopback servers of
tests/chaos_servers.py, with four subscribers whose filters differ (none,
tags, a keyword, an excluded tag) and small caps, so papers roll over from
one email into the next across runs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import random
import sqlite3
from pathlib import Path

from tests_support import SEEDS

MAX_AGE_DAYS = 7
SUBSCRIBERS = [
    {"email": "ada@example.org", "name": "Ada", "max_papers": 8},
    {"email": "bob@example.org", "tags": ["diffusion", "video", "3d"], "max_papers": 3},
    {"email": "cy@example.org", "keywords": ["language"], "max_papers": 4},
    {"email": "dee@example.org", "exclude_tags": ["llm"], "max_papers": 4},
]


@functools.cache
def seed_papers() -> tuple[tuple[str, str], ...]:
    """Distinct (title, abstract) pairs of the seed dumps."""
    from digest.identity import title_key
    from digest.sources.dumps import parse_dump

    pairs: dict[str, tuple[str, str]] = {}
    for path in sorted(SEEDS.glob("*.txt")):
        for entry in parse_dump(path, []):
            pairs.setdefault(
                title_key(entry.paper.title), (entry.paper.title, entry.paper.abstract)
            )
    return tuple(pairs.values())


class Dumps:
    """Writes dumps of new papers (seed texts, distinct titles) into the dumps folder."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder = folder
        self.pairs = list(seed_papers())
        rng.shuffle(self.pairs)
        self.rng = rng
        self.used: list[tuple[str, str]] = []
        self.hashes: set[str] = set()

    def _next(self, n: int) -> list[tuple[str, str]]:
        fresh = []
        for _ in range(n):
            k = len(self.used)
            title, abstract = self.pairs[k % len(self.pairs)]
            if k >= len(self.pairs):  # all seeds used: a suffix keeps titles distinct
                title = f"{title} {'part ' + str(k // len(self.pairs) + 1)}"
            self.used.append((title, abstract))
            fresh.append((title, abstract))
        return fresh

    def fresh(self, n: int) -> Path:
        return self._write("fresh", self._next(n))

    def heavy(self, entries: int, new: int = 3) -> Path:
        """A large dump: a few new papers, then known ones seen again (no new work)."""
        known = [self.rng.choice(self.used) for _ in range(entries - new)] if self.used else []
        return self._write("heavy", self._next(new) + known)

    def _write(self, kind: str, papers: list[tuple[str, str]]) -> Path:
        path = self.folder / f"{len(list(self.folder.iterdir())):04d}_{kind}.txt"
        lines = ["Get trending papers in your email inbox once a day!"]
        lines.append("Get trending papers in your email inbox!")
        for i, (title, abstract) in enumerate(papers):
            lines += [("Subscribe" if i == 0 else "") + title, abstract]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        path.write_bytes(data)
        self.hashes.add(hashlib.sha256(data).hexdigest())
        return path


def write_config(work: Path, llm_url: str, smtp_port: int) -> Path:
    def toml(value: object) -> str:
        return json.dumps(value)  # JSON strings, numbers and lists are TOML too

    lines = [
        'db = "digest.db"',
        "[sources]",
        'dumps = ["dumps"]',
        "[llm]",
        'backend = "openai"',
        'model = "chaos-model"',
        f"base_url = {toml(llm_url)}",
        "concurrency = 2",
        "timeout = 5",
        "max_retries = 2",
        "[digest]",
        f"max_age_days = {MAX_AGE_DAYS}",
        "[email]",
        'backend = "smtp"',
        'from = "Chaos digest <digest@example.org>"',
        'smtp_host = "127.0.0.1"',
        f"smtp_port = {smtp_port}",
        'security = "none"',
        "timeout = 5",
        "retries = 1",  # no backoff sleeps: a failed message waits for the next run
    ]
    for sub in SUBSCRIBERS:
        lines.append("[[subscribers]]")
        lines += [f"{key} = {toml(value)}" for key, value in sub.items()]
    path = work / "digest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Store:
    """Reads the run's database from the harness (WAL: reading never blocks the run)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def one(self, sql: str, params: tuple = ()) -> int:
        if not self.path.exists():
            return 0
        try:
            with contextlib.closing(sqlite3.connect(str(self.path), timeout=5)) as conn:
                return conn.execute(sql, params).fetchone()[0] or 0
        except sqlite3.Error:  # not created or migrated yet
            return 0

    def ingested(self) -> set[str]:
        if not self.path.exists():
            return set()
        try:
            with contextlib.closing(sqlite3.connect(str(self.path), timeout=5)) as conn:
                return {r[0] for r in conn.execute("SELECT content_hash FROM sources")}
        except sqlite3.Error:
            return set()

    def run_of(self, pid: int) -> int:
        return self.one("SELECT COUNT(*) FROM runs WHERE pid = ?", (pid,))

    def unsummarised(self) -> int:
        return self.one(
            "SELECT COUNT(*) FROM papers p WHERE NOT EXISTS (SELECT 1 FROM summaries s"
            " WHERE s.paper_id = p.id AND s.backend = 'openai' AND s.fallback_from IS NULL)"
        )

    def last_delivery(self) -> int:
        return self.one("SELECT MAX(id) FROM deliveries")

    def pending_deliveries(self) -> int:
        return self.one("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")

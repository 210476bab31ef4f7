"""Helpers shared by the benchmark scripts in bench/.

Each script measures one thing and refreshes its own section of
docs/benchmarks.md, between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`,
so the scripts can run alone or together (bench/run_all.py) without
overwriting each other's tables. The machine block at the top is refreshed
by every write: figures are only comparable on the machine that made them.
"""

from __future__ import annotations

import functools
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
SEEDS = REPO / "examples" / "dumps"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def ram_gib() -> float | None:
    """Total RAM in GiB from /proc/meminfo; None where there is no such file."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, str]:
    """What the figures were measured on, as label -> value."""
    ram = ram_gib()
    return {
        "CPU": cpu_model(),
        "Cores": str(os.cpu_count() or "?"),
        "RAM": f"{ram:.1f} GiB" if ram else "unknown",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
    }


def machine_line() -> str:
    """The machine in one line, for console output and section footers."""
    m = machine()
    return (
        f"{m['CPU']}, {m['Cores']} cores, {m['RAM']} RAM, {m['OS']}, "
        f"Python {m['Python']}, SQLite {m['SQLite']}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(ours: float, reference: float) -> float:
    """ours / reference; 0 when the reference is 0 (nothing to compare with)."""
    return ours / reference if reference else 0.0


def timed(fn: Callable[[], object]) -> float:
    """Wall time of one call, in seconds (perf_counter)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (also readable as plain console output)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def stamp() -> str:
    """When and where a section was measured, for its last line."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return f"_Measured {day} on {machine_line()}._"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with the section `name` replaced by `body` (appended if it is not there yet)."""
    start, end = _markers(name)
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def machine_section() -> str:
    return table(["Machine", ""], [[k, v] for k, v in machine().items()])


def write_section(name: str, body: str, doc: Path = DOC) -> Path:
    """Refresh one benchmark's section (and the machine block) in docs/benchmarks.md."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    text = replace_section(text, "machine", machine_section())
    text = replace_section(text, name, body)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    return doc


# Synthetic dumps, made from the seed dumps' real titles and abstracts.


@functools.cache
def seed_pairs() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Distinct (title, abstract sentences) pairs from examples/dumps."""
    from digest.identity import title_key
    from digest.sources.dumps import parse_dump

    pairs: dict[str, tuple[str, tuple[str, ...]]] = {}
    for path in sorted(SEEDS.glob("*.txt")):
        for entry in parse_dump(path, []):
            sentences = tuple(_SENTENCE.split(entry.paper.abstract))
            pairs.setdefault(title_key(entry.paper.title), (entry.paper.title, sentences))
    return tuple(pairs.values())


def synthetic(n: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    """n distinct (title, abstract) pairs: seed titles with a counter word, shuffled abstracts.

    The titles depend on n only; the abstracts' sentence order on `seed` too,
    so two seeds give the same papers with reworded abstracts.
    """
    pairs = seed_pairs()
    rng = random.Random(seed)
    for i in range(n):
        title, sentences = pairs[i % len(pairs)]
        shuffled = list(sentences)
        rng.shuffle(shuffled)
        yield f"{title} {counter_word(i // len(pairs))}", " ".join(shuffled)


def counter_word(k: int) -> str:
    """k as a lowercase word ("a", "b", ..., "ba", ...): titles stay titles."""
    word = ""
    while True:
        k, digit = divmod(k, 26)
        word = chr(ord("a") + digit) + word
        if k == 0:
            return word


def write_dump(path: Path, n: int, seed: int = 7) -> Path:
    """A compact-layout dump of `synthetic(n, seed)`: banners, then "Subscribe" glued on."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("Get trending papers in your email inbox once a day!\n")
        fh.write("Get trending papers in your email inbox!\n")
        for i, (title, abstract) in enumerate(synthetic(n, seed)):
            fh.write(f"{'Subscribe' if i == 0 else ''}{title}\n{abstract}\n")
    return path

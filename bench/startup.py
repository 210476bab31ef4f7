"""Start-up time of the CLI, and which heavy libraries `digest --help` loads.

    python bench/startup.py [--quick]

Times `digest --help` beside `python -c pass` (the interpreter alone) and
`python -c "import digest.cli"`, each in fresh subprocesses, interleaved,
medians over several runs. Then runs `python -X importtime -m digest --help`
and reports which heavy libraries it imports and through which of our
modules: openai, apscheduler and httpx should load only when a command needs
them; css_inline, jinja2 and sqlite_utils are listed for information.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import REPO, machine_line, median, stamp, table, write_section

HEAVY = ("openai", "apscheduler", "httpx")  # must not load for --help
WATCHED = (*HEAVY, "css_inline", "jinja2", "sqlite_utils")
FULL_RUNS, QUICK_RUNS = 15, 5
HELP_TARGET_MS = 100  # our own import cost on top of the interpreter's start
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)\s*$")


@dataclass
class Imported:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: int | None = None  # index of the module whose import pulled this one in


def digest_command() -> list[str]:
    """The installed console script, else `python -m digest`."""
    script = Path(sys.executable).with_name("digest")
    found = str(script) if script.exists() else shutil.which("digest")
    return [found] if found else [sys.executable, "-m", "digest"]


def commands() -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c pass": [py, "-c", "pass"],
        'python -c "import digest.cli"': [py, "-c", "import digest.cli"],
        "digest --help": [*digest_command(), "--help"],
    }


def time_commands(runs: int, cwd: Path) -> dict[str, list[float]]:
    """Wall seconds per run of each command, interleaved after one warm-up each."""
    cmds = commands()
    times: dict[str, list[float]] = {label: [] for label in cmds}
    for rep in range(runs + 1):
        for label, argv in cmds.items():
            start = time.perf_counter()
            subprocess.run(
                argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if rep:  # the first round warms caches (.pyc, page cache)
                times[label].append(time.perf_counter() - start)
    return times


def parse_importtime(stderr: str) -> list[Imported]:
    """`-X importtime` lines, with each module's importer worked out.

    Lines come in post-order (a module after everything it imported), indented
    two spaces per level: a line's importer is the next line one level up.
    """
    mods: list[Imported] = []
    waiting: dict[int, list[int]] = {}
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        depth = len(match.group(3)) // 2
        mods.append(Imported(match.group(4), int(match.group(1)), int(match.group(2)), depth))
        index = len(mods) - 1
        for child in waiting.pop(depth + 1, []):
            mods[child].parent = index
        waiting.setdefault(depth, []).append(index)
    return mods


def chain(mods: list[Imported], index: int) -> list[str]:
    """Module names from `index` up to the top-level import that caused it."""
    names = []
    at: int | None = index
    while at is not None:
        names.append(mods[at].name)
        at = mods[at].parent
    return names


def leaks(mods: list[Imported]) -> dict[str, dict]:
    """For every watched library imported: cost, our module that pulled it in, the chain."""
    found: dict[str, dict] = {}
    for i, mod in enumerate(mods):
        top = mod.name.split(".")[0]
        if top not in WATCHED or top in found:
            continue
        path = chain(mods, i)
        outer = max(k for k, name in enumerate(path) if name.split(".")[0] == top)
        package = mods[next(j for j in range(i, len(mods)) if chain(mods, j) == path[outer:])]
        ours = next((name for name in path[outer:] if name.startswith("digest")), None)
        found[top] = {
            "ms": package.cumulative_us / 1000,
            "via": ours,
            "chain": " <- ".join(path[outer:]),
        }
    return found


def importtime(*argv: str) -> tuple[list[Imported], dict[str, dict]]:
    """Import tree and watched libraries of `python -X importtime <argv>`."""
    argv = argv or ("-m", "digest", "--help")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    mods = parse_importtime(out.stderr)
    return mods, leaks(mods)


def render(
    times: dict[str, list[float]], found: dict[str, dict], mods: list[Imported], runs: int
) -> str:
    medians = {label: median(t) * 1000 for label, t in times.items()}
    base = medians["python -c pass"]
    over = medians["digest --help"] - base
    time_rows = [
        [
            f"`{label}`",
            f"{ms:.0f}",
            f"{ms - base:+.0f}" if label != "python -c pass" else "—",
            f"≤ {HELP_TARGET_MS} ms over python" if label == "digest --help" else "",
            ("yes" if over <= HELP_TARGET_MS else "**no**") if label == "digest --help" else "",
        ]
        for label, ms in medians.items()
    ]
    import_rows = []
    for name in WATCHED:
        hit = found.get(name)
        heavy = name in HEAVY
        target = "not loaded" if heavy else "(information)"
        met = ("**no**" if hit else "yes") if heavy else ""
        import_rows.append(
            [
                f"`{name}`",
                "yes" if hit else "no",
                f"{hit['ms']:.1f}" if hit else "",
                f"`{hit['via']}`" if hit and hit["via"] else "",
                target,
                met,
            ]
        )
    top = sorted((m for m in mods if m.depth <= 1), key=lambda m: -m.cumulative_us)[:6]
    heaviest = ", ".join(f"`{m.name}` {m.cumulative_us / 1000:.1f} ms" for m in top)
    lines = [
        "## Start-up: `digest --help`",
        "",
        f"`python bench/startup.py`. Wall time of each command in a fresh process, median of"
        f" {runs} interleaved runs after one warm-up, milliseconds.",
        "",
        table(["Command", "median ms", "vs python -c pass", "target", "met"], time_rows),
        "",
        "Libraries imported by `python -X importtime -m digest --help`: the heavy ones (openai,"
        " apscheduler, httpx) must load only when a command needs them.",
        "",
        table(
            ["Library", "imported", "cumulative ms", "pulled in by", "target", "met"], import_rows
        ),
        "",
        f"Heaviest imports under `--help` (cumulative): {heaviest}.",
    ]
    chains = [f"- `{name}`: {hit['chain']}" for name, hit in found.items()]
    if chains:
        lines += ["", "Import chains (module <- the module that imported it):", "", *chains]
    lines += ["", stamp()]
    return "\n".join(lines)


def main(quick: bool = False) -> None:
    runs = QUICK_RUNS if quick else FULL_RUNS
    print(f"startup benchmark on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        times = time_commands(runs, Path(tmp))
    mods, found = importtime()
    body = render(times, found, mods, runs)
    print()
    print(body)
    print(f"\nwritten to {write_section('startup', body)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs, not {FULL_RUNS}")
    main(quick=parser.parse_args().quick)

"""A second `digest run` with nothing new: no model calls, and how long it takes.

    python bench/repeat_run.py [--quick]

In a fresh folder per repeat, the real CLI (`python -m digest run`, a
subprocess) runs twice on the same dumps with the openai backend pointed at
the fake OpenAI server (tests/openai_server.py, in this process: it counts
every request that reaches it) and one subscriber (file outbox). The first
run ingests, summarises every paper with the "model", emails and writes the
digest; the second finds the dumps already ingested, every paper summarised
and delivered, so it must make no model call and send nothing. Wall times
are medians over the repeats, the two runs side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, SEEDS, machine_line, median, stamp, table, write_section

sys.path.insert(0, str(REPO / "tests"))  # the reusable fake server
from openai_server import FakeOpenAI  # noqa: E402

FULL, QUICK = 5, 3  # repeats
QUICK_DUMP = "001_f241505a523fd2a8.txt"  # 52 papers


def configure(folder: Path, url: str, dumps: list[Path]) -> None:
    (folder / "dumps").mkdir()
    for dump in dumps:
        shutil.copy(dump, folder / "dumps" / dump.name)
    (folder / "digest.toml").write_text(
        "\n".join(
            [
                "[sources]",
                'dumps = ["dumps"]',
                "[llm]",
                'backend = "openai"',
                'model = "bench-model"',
                f'base_url = "{url}"',
                "[[subscribers]]",
                'email = "ada@example.org"',
                "max_papers = 1000",  # every paper in the first email: none left for the second
            ]
        )
        + "\n",
        encoding="utf-8",
    )


def one_run(folder: Path, server: FakeOpenAI) -> dict[str, float | int | str]:
    """`digest run` in `folder`: wall seconds, model requests, and its summary line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    before = len(server.requests)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--config", "digest.toml", "run"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"digest run failed ({done.returncode}): {done.stderr or done.stdout}")
    line = done.stdout.strip().splitlines()[-1]
    return {"wall": wall, "requests": len(server.requests) - before, "line": line}


def import_openai() -> float:
    """Wall seconds of a fresh `python -c "import openai"`: what the backend loads first."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import openai"], check=True, timeout=120)
    return time.perf_counter() - start


def measure(repeats: int, dumps: list[Path], work: Path) -> list[tuple[dict, dict]]:
    pairs = []
    with FakeOpenAI() as server:
        for rep in range(repeats):
            folder = work / f"r{rep}"
            folder.mkdir()
            configure(folder, server.url, dumps)
            first, second = one_run(folder, server), one_run(folder, server)
            second["import_openai"] = import_openai()
            pairs.append((first, second))
            print(
                f"  first {first['wall']:.2f} s, {first['requests']} model requests;"
                f" second {second['wall']:.2f} s, {second['requests']} model requests"
                f" ({second['line']})",
                flush=True,
            )
            shutil.rmtree(folder)
    return pairs


def render(pairs: list[tuple[dict, dict]], dumps: list[Path], quick: bool) -> str:
    first = median([p[0]["wall"] for p in pairs])
    second = median([p[1]["wall"] for p in pairs])
    calls = max(p[1]["requests"] for p in pairs)
    rows = [
        ["first run", f"{first:.2f}", "1.00", max(p[0]["requests"] for p in pairs), "", ""],
        [
            "second run, nothing new",
            f"{second:.2f}",
            f"{second / first:.2f}",
            f"**{calls}**",
            "0 model calls",
            "yes" if calls == 0 else "**no**",
        ],
        [
            '`python -c "import openai"` (for reference)',
            f"{median([p[1]['import_openai'] for p in pairs]):.2f}",
            f"{median([p[1]['import_openai'] for p in pairs]) / first:.2f}",
            "",
            "",
            "",
        ],
    ]
    return "\n".join(
        [
            "## Repeat run: a second `digest run` with nothing new",
            "",
            "`python bench/repeat_run.py`"
            + (" `--quick`" if quick else "")
            + f". The real CLI in a subprocess, twice in a fresh folder, on {len(dumps)} seed"
            f" dump{'s' if len(dumps) > 1 else ''}, with the openai backend pointed at the fake"
            " OpenAI server (which counts the requests reaching it) and one subscriber (file"
            f" outbox). Medians of {len(pairs)} repeats, seconds.",
            "",
            table(
                ["Run", "wall s", "vs first", "model requests (max)", "target", "met"],
                rows,
            ),
            "",
            f"Second run's summary line: `{pairs[-1][1]['line']}`. The openai SDK is"
            " imported only when a request is about to be made, so this run never loads it"
            " (the reference row is what that import alone would cost).",
            "",
            stamp(),
        ]
    )


def main(quick: bool = False) -> None:
    repeats = QUICK if quick else FULL
    dumps = [SEEDS / QUICK_DUMP] if quick else sorted(SEEDS.glob("*.txt"))
    print(f"repeat-run benchmark on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-repeat-") as tmp:
        pairs = measure(repeats, dumps, Path(tmp))
    body = render(pairs, dumps, quick)
    print()
    print(body)
    print(f"\nwritten to {write_section('repeat_run', body)}")
    if any(p[1]["requests"] for p in pairs):
        raise SystemExit("repeat_run: the second run called the model")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"one dump, {QUICK} repeats")
    main(quick=parser.parse_args().quick)

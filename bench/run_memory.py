"""Peak memory of `digest run` as the day's papers grow, and the size of its digest.

    python bench/run_memory.py [--quick] [--baseline CHECKOUT]

In a fresh folder per size, a synthetic dump of N distinct papers (made from
the seed dumps' titles and abstracts, bench/common.py) and one subscriber;
then the real CLI (`python -m digest run`, a subprocess, the defaults: the
offline summariser and the file outbox) runs once. Its peak resident memory
is the kernel's own figure for that process (`wait4` rusage, ru_maxrss), so
nothing is sampled or missed. The memory should stay flat in N: papers are
summarised a page at a time, and the day's Markdown digest holds at most
`[digest] max_digest_papers`. With --baseline, the same runs are made with
another checkout of the code (e.g. the commit before a change) on the path,
side by side. One run per size: a run of 40k papers takes minutes.
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

from common import REPO, machine_line, stamp, table, write_dump, write_section

FULL, QUICK = (2_000, 10_000, 40_000), (2_000, 10_000)


def one_run(folder: Path, code: Path) -> dict[str, float]:
    """Peak RSS (MB), wall seconds and the digest's size (KB) of one `digest run`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["PYTHONPATH"] = str(code)

    def digest(*args: str) -> tuple[float, float]:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "digest", *args],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"digest {' '.join(args)} failed ({proc.returncode}): {err}")
        return usage.ru_maxrss / 1024, time.perf_counter() - start

    digest("subscribe", "reader@example.org")
    peak, wall = digest("run", "dumps")
    [made] = list((folder / "digests").glob("*.md"))
    return {"peak": peak, "wall": wall, "digest_kb": made.stat().st_size / 1024}


def measure(sizes: tuple[int, ...], code: Path, work: Path, label: str) -> dict[int, dict]:
    results = {}
    for n in sizes:
        folder = work / f"{label}-{n}"
        (folder / "dumps").mkdir(parents=True)
        write_dump(folder / "dumps" / "big.txt", n)
        results[n] = one_run(folder, code)
        r = results[n]
        print(
            f"  {label}: {n:,} papers: peak {r['peak']:.0f} MB, {r['wall']:.0f} s,"
            f" digest {r['digest_kb']:,.0f} KB",
            flush=True,
        )
        shutil.rmtree(folder)
    return results


def render(ours: dict[int, dict], base: dict[int, dict] | None, baseline: str | None) -> str:
    header = ["papers", "peak RSS", "digest size", "wall"]
    if base:
        header = ["papers", "peak RSS (before)", "peak RSS", "digest (before)", "digest", "wall"]
    rows = []
    for n, r in ours.items():
        now = [f"{r['peak']:.0f} MB", f"{_size(r['digest_kb'])}", f"{r['wall']:.0f} s"]
        if base:
            b = base[n]
            now = [f"{b['peak']:.0f} MB", now[0], _size(b["digest_kb"]), now[1], now[2]]
        rows.append([f"{n:,}", *now])
    return "\n\n".join(
        [
            "## Memory of a daily run",
            "`python bench/run_memory.py`: one `digest run` (offline summaries, file outbox,"
            " one subscriber) on a dump of N new papers; peak resident memory of the process"
            " (the kernel's ru_maxrss) and the size of the day's Markdown digest"
            + (f"; before = {baseline}" if baseline else "")
            + ". Target: flat in N.",
            table(header, rows),
            stamp(),
        ]
    )


def _label(checkout: str) -> str:
    """A baseline checkout as its commit, when it is a git checkout."""
    found = subprocess.run(
        ["git", "-C", checkout, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return f"commit {found.stdout.strip()}" if found.returncode == 0 else checkout


def _size(kb: float) -> str:
    return f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} KB"


def main(quick: bool = False, baseline: str | None = None) -> None:
    sizes = QUICK if quick else FULL
    print(f"run memory on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = measure(sizes, Path(baseline), Path(tmp), "before") if baseline else None
        ours = measure(sizes, REPO, Path(tmp), "now")
    body = render(ours, base, _label(baseline) if baseline else None)
    print(body)
    print(f"\nwritten to {write_section('run_memory', body)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2k and 10k papers only")
    parser.add_argument("--baseline", help="another checkout to measure side by side")
    args = parser.parse_args()
    main(args.quick, args.baseline)

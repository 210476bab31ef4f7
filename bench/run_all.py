"""Run every benchmark in bench/ and refresh docs/benchmarks.md.

    python bench/run_all.py [--quick]

A benchmark is a module here exposing `main(quick: bool) -> None`. They are
run in a fixed order (the known ones first, then any others found); a module
that is missing, fails to import or has no such `main` is skipped with a
note, and one that fails while running is reported and the rest still run.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from pathlib import Path

from common import machine_line

BENCH = Path(__file__).resolve().parent
ORDER = ("startup", "ingest", "llm", "fanout", "email_size", "repeat_run", "quality", "chaos")
NOT_BENCHMARKS = {"common", "run_all"}


def names() -> list[str]:
    """Known benchmarks in their order, then any other bench/*.py."""
    others = sorted(
        p.stem
        for p in BENCH.glob("*.py")
        if p.stem not in ORDER and p.stem not in NOT_BENCHMARKS and not p.stem.startswith("_")
    )
    return [*ORDER, *others]


def load(name: str) -> tuple[object | None, str | None]:
    """The benchmark's main, or why it is skipped."""
    if not (BENCH / f"{name}.py").exists():
        return None, "not present yet"
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - one broken script must not stop the others
        return None, f"cannot be imported ({type(exc).__name__}: {exc})"
    main = getattr(module, "main", None)
    if not callable(main):
        return None, "has no main()"
    if "quick" not in inspect.signature(main).parameters:
        return None, "main() takes no `quick` argument; run it on its own"
    return main, None


def run_all(quick: bool) -> int:
    """Run them all; returns how many failed."""
    print(f"benchmarks on {machine_line()}{' (quick)' if quick else ''}\n", flush=True)
    outcomes: list[tuple[str, str]] = []
    for name in names():
        main, why = load(name)
        if main is None:
            print(f"== {name}: skipped: bench/{name}.py {why}\n", flush=True)
            outcomes.append((name, f"skipped ({why})"))
            continue
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            main(quick=quick)
        except (Exception, SystemExit):  # noqa: BLE001 - report it, go on with the next one
            traceback.print_exc()
            outcomes.append((name, "FAILED"))
        else:
            outcomes.append((name, f"done in {time.perf_counter() - start:.0f} s"))
        print(flush=True)
    print("summary:")
    for name, outcome in outcomes:
        print(f"  {name:<12} {outcome}")
    return sum(outcome == "FAILED" for _, outcome in outcomes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    sys.exit(1 if run_all(parser.parse_args().quick) else 0)

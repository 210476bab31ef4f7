"""Abstracts wrapped onto a second line: how many the dump parser joins back exactly.

    python bench/dump_wraps.py [--quick]

A pasted dump sometimes has an abstract broken over two lines. For every
entry of the seed dumps (examples/dumps), one at a time, this writes a copy of
its dump with that one abstract cut in two and parses it with the real parser
(digest/sources/dumps.py). The cut is made two ways: at the space nearest the
middle (mid-sentence, the usual soft wrap) and at the sentence end nearest the
middle (abstracts of one sentence are left out of that row). A case counts as
joined when the parse gives exactly the papers of the uncut dump, with no
warning; otherwise it is a bogus paper (more entries), a lost one (fewer) or a
wrong abstract (same count, different text).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import SEEDS, machine_line, stamp, table, write_section

from digest.sources.dumps import parse_dump

_SENTENCE_END = re.compile(r"[.!?] (?=[A-Z])")


def cut_mid(abstract: str) -> int | None:
    """Index of the space nearest the middle."""
    middle = len(abstract) // 2
    spaces = [i for i, c in enumerate(abstract) if c == " "]
    return min(spaces, key=lambda i: abs(i - middle)) if spaces else None


def cut_sentence(abstract: str) -> int | None:
    """Index of the space after the sentence end nearest the middle."""
    middle = len(abstract) // 2
    ends = [m.start() + 1 for m in _SENTENCE_END.finditer(abstract)]
    return min(ends, key=lambda i: abs(i - middle)) if ends else None


def outcome(path: Path, expected: list) -> str:
    warnings: list[str] = []
    found = [e.paper for e in parse_dump(path, warnings)]
    if found == expected and not warnings:
        return "joined"
    if len(found) > len(expected):
        return "bogus paper"
    if len(found) < len(expected):
        return "lost paper"
    return "wrong abstract" if found != expected else "joined, with a warning"


def measure(quick: bool, work: Path) -> dict[str, Counter[str]]:
    results: dict[str, Counter[str]] = {"mid-sentence": Counter(), "between sentences": Counter()}
    cutters = {"mid-sentence": cut_mid, "between sentences": cut_sentence}
    for seed in sorted(SEEDS.glob("*.txt")):
        lines = seed.read_text(encoding="utf-8").splitlines()
        expected = [e.paper for e in parse_dump(seed, [])]
        abstracts = {p.abstract for p in expected}
        where = [i for i, line in enumerate(lines) if line.strip() in abstracts]
        for n in where[:: 10 if quick else 1]:
            for name, cutter in cutters.items():
                abstract = lines[n].strip()
                cut = cutter(abstract)
                if cut is None:
                    continue
                edited = [*lines[:n], abstract[:cut], abstract[cut + 1 :], *lines[n + 1 :]]
                path = work / seed.name
                path.write_text("\n".join(edited) + "\n", encoding="utf-8")
                results[name][outcome(path, expected)] += 1
    return results


def render(results: dict[str, Counter[str]], quick: bool) -> str:
    kinds = ["joined", "joined, with a warning", "bogus paper", "lost paper", "wrong abstract"]
    rows = []
    for name, counts in results.items():
        total = sum(counts.values())
        rows.append([name, f"{counts['joined']}/{total}", *(counts[k] for k in kinds[1:])])
    return "\n\n".join(
        [
            "## Wrapped abstracts in dumps" + (" (quick: every 10th entry)" if quick else ""),
            "Each seed dump entry in turn, its abstract cut onto two lines "
            "(`python bench/dump_wraps.py`): joined back exactly, or what went wrong.",
            table(["cut", "joined exactly", *kinds[1:]], rows),
            stamp(),
        ]
    )


def main(quick: bool = False) -> None:
    print(f"wrapped abstracts on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(quick, Path(tmp))
    body = render(results, quick)
    print(body)
    print(f"\nwritten to {write_section('dump_wraps', body)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every 10th entry only")
    main(parser.parse_args().quick)
    sys.exit(0)

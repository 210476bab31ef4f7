"""Score a summarising backend against the labelled dev set.

    python bench/quality.py [--labels PATH] [--backend offline] [--quick]

Prints tag micro precision/recall/F1 and mean TL;DR ROUGE-L F1 for the
backend and for a naive baseline (first abstract sentence + the label set's
most frequent tag), on the full set and on two fixed halves. The halves are
there to catch over-fitting: rules developed while looking at one half
should score about as well on the other.

ROUGE-L is implemented here (LCS over lowercase word tokens, F with beta=1)
so the benchmark needs only the standard library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from digest.backends import Backend  # noqa: E402
from digest.backends.offline import split_sentences  # noqa: E402
from digest.models import Paper  # noqa: E402
from digest.resources import default_vocabulary  # noqa: E402

DEFAULT_LABELS = REPO.parent / "shared" / "eval" / "dev_labels.jsonl"
_WORDS = re.compile(r"[^\W_]+")

Label = dict[str, Any]  # title, abstract, tags, tldr
Prediction = tuple[str, tuple[str, ...]]  # (tldr, tags)


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, O(len(a) * len(b)) with one row."""
    if not a or not b:
        return 0
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, 1):
            keep = row[j]
            row[j] = prev_diag + 1 if x == y else max(row[j], row[j - 1])
            prev_diag = keep
    return row[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 between two texts on lowercase word tokens."""
    c, r = words(candidate), words(reference)
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def score(labels: list[Label], predictions: list[Prediction]) -> dict[str, float]:
    """Micro P/R/F1 over all (paper, tag) pairs, and mean TL;DR ROUGE-L."""
    tp = n_pred = n_gold = 0
    rouge = 0.0
    for label, (tldr, tags) in zip(labels, predictions, strict=True):
        gold = set(label["tags"])
        tp += len(gold & set(tags))
        n_pred += len(set(tags))
        n_gold += len(gold)
        rouge += rouge_l(tldr, str(label["tldr"]))
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "P": p,
        "R": r,
        "F1": f,
        "ROUGE-L": rouge / max(len(labels), 1),
        "tags/paper": n_pred / max(len(labels), 1),
    }


def half_of(label: Label) -> str:
    """A fixed, order-independent split of the labels into halves A and B."""
    digest = hashlib.sha256(str(label["title"]).encode("utf-8")).digest()
    return "A" if digest[0] % 2 == 0 else "B"


def load_labels(path: Path) -> list[Label]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def build_backend(name: str) -> Backend:
    """The configured backend if settings load, else the offline one directly."""
    try:
        from digest.backends import get_backend
        from digest.config import load_settings

        return get_backend(name, load_settings())
    except Exception as exc:  # settings layer unfinished or misconfigured
        if name != "offline":
            raise
        print(f"note: using OfflineBackend(default_vocabulary()) ({exc})", file=sys.stderr)
        from digest.backends.offline import OfflineBackend

        return OfflineBackend(default_vocabulary())


def baseline(labels: list[Label]) -> Callable[[Paper], Prediction]:
    top_tag = Counter(t for lab in labels for t in lab["tags"]).most_common(1)[0][0]

    def predict(paper: Paper) -> Prediction:
        sentences = split_sentences(paper.abstract)
        return (sentences[0] if sentences else paper.title), (str(top_tag),)

    return predict


def main(argv: list[str] | None = None, quick: bool = False) -> int:
    """Score and print; errors exit with status 2 (SystemExit, so bench/run_all.py
    reports them as failures). `quick` (run_all --quick) changes nothing: the
    labelled set is small enough to score whole."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--backend", default="offline")
    parser.add_argument("--quick", action="store_true", help="the same as without (for run_all)")
    args = parser.parse_args(argv)
    if not args.labels.is_file():
        print(f"error: labels file {args.labels} not found (pass --labels PATH)", file=sys.stderr)
        raise SystemExit(2)
    try:
        labels = load_labels(args.labels)
        papers = [Paper(title=str(lab["title"]), abstract=str(lab["abstract"])) for lab in labels]
        if not all(isinstance(lab["tags"], list) and "tldr" in lab for lab in labels):
            raise ValueError("a line lacks a tags list or a tldr")
    except (ValueError, KeyError, TypeError) as exc:
        print(
            f"error: {args.labels} is not a labels file (JSON lines with title, abstract, "
            f"tags, tldr): {exc!r}",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    backend = build_backend(args.backend)

    start = time.perf_counter()
    summaries = [backend.summarize(p) for p in papers]
    elapsed = time.perf_counter() - start
    ours: list[Prediction] = [(s.tldr, tuple(s.tags)) for s in summaries]
    predict = baseline(labels)
    naive = [predict(p) for p in papers]

    label_tags = set(default_vocabulary())
    if not all(set(tags) <= label_tags for _, tags in ours):
        print(
            "warning: the backend gives tags outside the default vocabulary the labels use "
            "(a custom [tags] table in the config?); tag scores are not comparable",
            file=sys.stderr,
        )
    long_tldrs = sum(len(t.split()) > 35 for t, _ in ours)

    print(f"{len(labels)} labelled papers from {args.labels}")
    print(
        f"backend {backend.name} / {backend.model} / {backend.prompt_version}: "
        f"{elapsed * 1000:.1f} ms for {len(papers)} papers; TL;DRs over 35 words: {long_tldrs}"
    )
    header = (
        f"{'set':<6}{'n':>5}  {'system':<10}{'tag P':>7}{'tag R':>7}{'tag F1':>8}"
        f"{'tags/p':>8}{'ROUGE-L':>9}"
    )
    print(header)
    print("-" * len(header))
    for part in ("all", "A", "B"):
        idx = [i for i, lab in enumerate(labels) if part == "all" or half_of(lab) == part]
        sub = [labels[i] for i in idx]
        for system, preds in ((backend.name, ours), ("baseline", naive)):
            m = score(sub, [preds[i] for i in idx])
            print(
                f"{part:<6}{len(sub):>5}  {system:<10}{m['P']:>7.3f}{m['R']:>7.3f}"
                f"{m['F1']:>8.3f}{m['tags/paper']:>8.2f}{m['ROUGE-L']:>9.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How well each reader's papers are ranked, and how long ranking takes.

    python bench/relevance.py [--labels PATH] [--embeddings-url URL --embeddings-model NAME]

On the labelled dev papers (bench/data/relevance_labels.jsonl: title,
abstract, labelled tags and the paper's best rank in the seed dumps), each
tag of the vocabulary plays a reader: relevant papers are those whose labels
include the tag. Three tasks, each ranked within each fixed half of the set
(the halves of bench/quality.py: a rule tuned to single papers of one half
would not carry over to the other):

1. interests: the reader's interests are the tag's description (never its
   name). Systems: trending order (what readers got before), the tag
   filter (offline tags, trending order), the lexical model, and
   embeddings when a server is given.
2. likes: the reader liked 3 papers of the tag (a fixed random draw);
   the rest are ranked.
3. thumbs: 20 ratings drawn from the labels (5 relevant papers up, 15
   others down, a fixed random draw); the rest are ranked by interests
   alone, by the thumbs alone and by both (with 10 ratings of both kinds
   the learnt model joins in).

Figures: mean precision@10 and nDCG@10 over readers (tags with at least one
relevant paper left in that half). Then the time to rank a day for one
reader: the 540 papers of the seed dumps, readers with interests and with
interests + 20 thumbs, median over readers.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import REPO, SEEDS, table, write_section

from digest.rank.score import Corpus, Ranker

DEFAULT_LABELS = REPO / "bench" / "data" / "relevance_labels.jsonl"
K = 10

Label = dict[str, Any]
System = Callable[[str, list[int]], list[int]]  # (tag, candidate indexes) -> ranked


def half_of(title: str) -> str:
    import hashlib

    return "A" if hashlib.sha256(title.encode("utf-8")).digest()[0] % 2 == 0 else "B"


def precision_at(ranked: Sequence[int], relevant: set[int], k: int = K) -> float:
    return sum(1 for i in ranked[:k] if i in relevant) / k


def ndcg_at(ranked: Sequence[int], relevant: set[int], k: int = K) -> float:
    dcg = sum(1 / math.log2(n + 2) for n, i in enumerate(ranked[:k]) if i in relevant)
    ideal = sum(1 / math.log2(n + 2) for n in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def offline_tags(labels: list[Label]) -> list[set[str]]:
    """The tags the offline backend gives each paper (what the tag filter sees)."""
    from digest.backends.offline import OfflineBackend
    from digest.models import Paper
    from digest.resources import default_vocabulary

    backend = OfflineBackend(default_vocabulary())
    return [set(backend.summarize(Paper(lab["title"], lab["abstract"])).tags) for lab in labels]


class Half:
    """One half of the labels as one day's papers, with a ranker built on them."""

    def __init__(self, labels: list[Label], predicted: list[set[str]], space_factory=None):
        self.labels = labels
        self.predicted = predicted
        self.trending = sorted(range(len(labels)), key=lambda i: labels[i]["trending_rank"])
        corpus = Corpus(
            list(range(len(labels))),
            [lab["title"] for lab in labels],
            [lab["abstract"] for lab in labels],
        )
        space = space_factory(corpus) if space_factory else None
        self.ranker = Ranker(corpus, space)

    def relevant(self, tag: str) -> set[int]:
        return {i for i, lab in enumerate(self.labels) if tag in lab["tags"]}

    def by_trending(self, candidates: list[int]) -> list[int]:
        keep = set(candidates)
        return [i for i in self.trending if i in keep]

    def ranked(self, candidates: list[int], interests: str | None, votes: dict[int, int]):
        out = self.ranker.rank(self.by_trending(candidates), interests, votes, explain=K)
        return [r.paper_id for r in out] if out is not None else self.by_trending(candidates)


def evaluate(
    halves: dict[str, Half], vocab: dict[str, str], task: str
) -> dict[str, dict[str, tuple[float, float, int]]]:
    """{system: {half: (mean P@10, mean nDCG@10, readers)}} for one task."""
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}

    def record(system: str, half: str, ranked: list[int], relevant: set[int]) -> None:
        results.setdefault(system, {}).setdefault(half, []).append(
            (precision_at(ranked, relevant), ndcg_at(ranked, relevant))
        )

    for name, h in halves.items():
        everyone = list(range(len(h.labels)))
        for tag, description in vocab.items():
            relevant = h.relevant(tag)
            if task == "interests":
                if len(relevant) < K:
                    continue
                record("trending order", name, h.by_trending(everyone), relevant)
                tagged = [i for i in h.by_trending(everyone) if tag in h.predicted[i]]
                record("tag filter", name, tagged, relevant)
                record("interests (lexical)", name, h.ranked(everyone, description, {}), relevant)
            elif task == "likes":
                if len(relevant) < K + 3:
                    continue
                liked = random.Random(f"{tag}{name}").sample(sorted(relevant), 3)
                rest = [i for i in everyone if i not in liked]
                left = relevant - set(liked)
                votes = {i: 1 for i in liked}
                record("trending order", name, h.by_trending(rest), left)
                record("3 liked papers", name, h.ranked(rest, None, votes), left)
                record("interests + 3 liked", name, h.ranked(rest, description, votes), left)
            else:
                if len(relevant) < K + 5:
                    continue
                rng = random.Random(f"{tag}{name}")
                ups = rng.sample(sorted(relevant), 5)
                downs = rng.sample(sorted(set(everyone) - relevant), 15)
                votes = {**{i: 1 for i in ups}, **{i: -1 for i in downs}}
                rest = [i for i in everyone if i not in votes]
                left = relevant - set(ups)
                record("trending order", name, h.by_trending(rest), left)
                record("interests", name, h.ranked(rest, description, {}), left)
                record("20 thumbs (learnt model)", name, h.ranked(rest, None, votes), left)
                record("interests + 20 thumbs", name, h.ranked(rest, description, votes), left)
    return {
        system: {
            half: (
                statistics.fmean(p for p, _ in pairs),
                statistics.fmean(n for _, n in pairs),
                len(pairs),
            )
            for half, pairs in by_half.items()
        }
        for system, by_half in results.items()
    }


def timing(vocab: dict[str, str], readers: int = 200) -> dict[str, float]:
    """Median milliseconds to rank the seed dumps' 540 papers for one reader."""
    from digest.sources.dumps import find_dumps, parse_dump

    seen: dict[str, tuple[str, str]] = {}
    for path in find_dumps([SEEDS]):
        for entry in parse_dump(path):
            seen.setdefault(entry.paper.title, (entry.paper.title, entry.paper.abstract))
    papers = list(seen.values())
    start = time.perf_counter()
    ranker = Ranker(
        Corpus(list(range(len(papers))), [t for t, _ in papers], [a for _, a in papers])
    )
    build = (time.perf_counter() - start) * 1000
    descriptions = list(vocab.values())
    rng = random.Random(5)
    everyone = list(range(len(papers)))
    plain, thumbs = [], []
    for n in range(readers):
        interests = descriptions[n % len(descriptions)]
        t0 = time.perf_counter()
        ranker.rank(everyone, interests, {}, explain=25)
        plain.append((time.perf_counter() - t0) * 1000)
        votes = {i: rng.choice((1, -1)) for i in rng.sample(everyone, 20)}
        t0 = time.perf_counter()
        ranker.rank(everyone, interests, votes, explain=25)
        thumbs.append((time.perf_counter() - t0) * 1000)
    return {
        "papers": len(papers),
        "build_ms": build,
        "interests_ms": statistics.median(plain),
        "thumbs_ms": statistics.median(thumbs),
    }


def load_labels(path: Path) -> list[Label]:
    with path.open(encoding="utf-8") as fh:
        labels = [json.loads(line) for line in fh if line.strip()]
    for n, lab in enumerate(labels):
        if not isinstance(lab.get("tags"), list) or "abstract" not in lab:
            raise ValueError(f"line {n + 1} lacks tags or abstract")
        if lab.get("trending_rank") is None:
            lab["trending_rank"] = 10_000 + n  # unknown rank: after the known ones, in file order
    return labels


def space_factory(args: argparse.Namespace):
    if not args.embeddings_url:
        return None
    from digest.rank.embeddings import EmbeddingSpace, OpenAIEmbedder

    embedder = OpenAIEmbedder(args.embeddings_model, args.embeddings_url, api_key="bench")
    return lambda corpus: EmbeddingSpace.build(embedder, corpus)


def main(argv: list[str] | None = None, quick: bool = False) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--embeddings-url", help="an OpenAI-compatible /v1 base URL")
    parser.add_argument("--embeddings-model", default="text-embedding-3-small")
    parser.add_argument("--quick", action="store_true", help="fewer readers for the timing")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    quick = quick or args.quick
    if not args.labels.is_file():
        print(f"error: labels file {args.labels} not found (pass --labels PATH)", file=sys.stderr)
        raise SystemExit(2)
    try:
        labels = load_labels(args.labels)
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"error: {args.labels} is not a labels file: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    from digest.resources import default_vocabulary

    vocab = default_vocabulary()
    predicted = offline_tags(labels)
    parts = {
        name: [i for i, lab in enumerate(labels) if half_of(lab["title"]) == name]
        for name in ("A", "B")
    }
    parts = {"all": list(range(len(labels))), **parts}
    halves = {
        name: Half([labels[i] for i in idx], [predicted[i] for i in idx])
        for name, idx in parts.items()
    }
    sections = []
    tasks = {
        "interests": "1. interests (the tag's description)",
        "likes": "2. three liked papers",
        "thumbs": "3. 20 thumbs (5 up, 15 down)",
    }
    for task, title in tasks.items():
        res = evaluate(halves, vocab, task)
        factory = space_factory(args)
        if factory and task == "interests":
            emb = {n: Half(h.labels, h.predicted, factory) for n, h in halves.items()}
            res["interests (embeddings)"] = evaluate(emb, vocab, task)["interests (lexical)"]
        rows = [
            [system]
            + [
                f"{res[system][h][0]:.3f} / {res[system][h][1]:.3f} ({res[system][h][2]})"
                if h in res[system]
                else "-"
                for h in ("all", "A", "B")
            ]
            for system in res
        ]
        body = table(["system", "all: P@10 / nDCG@10 (readers)", "half A", "half B"], rows)
        print(
            f"\n{title} ({len(labels)} labelled papers, halves {len(parts['A'])}"
            f" / {len(parts['B'])}; readers: tags with at least {K} relevant papers left)\n{body}"
        )
        sections.append(f"**{title}**\n\n{body}")
    t = timing(vocab, 60 if quick else 300)
    line = (
        f"ranking {t['papers']} papers: {t['build_ms']:.0f} ms to build the model once per send;"
        f" per reader (median) {t['interests_ms']:.2f} ms with interests,"
        f" {t['thumbs_ms']:.2f} ms with interests + 20 thumbs"
        f" (12,000 readers: about {12000 * t['thumbs_ms'] / 1000:.0f} s)"
    )
    print("\n" + line)
    if not args.no_write:
        intro = (
            "`python bench/relevance.py`: mean precision@10 / nDCG@10 per reader on the "
            "labelled dev papers, each tag of the vocabulary playing a reader, ranked within "
            "each half of the set."
        )
        write_section("relevance", "\n\n".join([intro, *sections, line]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the openai backend against a loopback server (no network, no model).

    python bench/llm.py [--quick] [--latency 0.05 0.2 0.5] [--concurrency 1 4 8 16]

1. Throughput: the fake OpenAI server (tests/openai_server.py, in its own
   process so it does not share our GIL) answers every request after a fixed
   latency. We summarise seed papers through the real driver (AsyncOpenAI,
   validation, SQLite commits per paper) at each concurrency and compare
   papers/second with the ideal (concurrency / latency) and with plain
   sequential calls (the synchronous openai client, one request at a time).
2. Tokens per paper: every request the backend sends for the seed papers is
   recorded, and split into the paper (title + abstract) and the fixed
   overhead (system prompt, fence, response format). No tokenizer is
   installed, so tokens are estimated two ways: characters / 4 (the usual
   rule of thumb for English) and word pieces (each run of letters/digits
   and each punctuation mark counts one: an upper bound for JSON-heavy text).
   Completion tokens are estimated from a reply of realistic length: the
   offline backend's summary of the same paper, written as the JSON reply.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the reusable fake server

import openai  # noqa: E402
from common import replace_section, stamp, write_section  # noqa: E402
from openai_server import FakeOpenAI  # noqa: E402

from digest.backends.llm_reply import fence_safe  # noqa: E402
from digest.backends.offline import OfflineBackend  # noqa: E402
from digest.backends.openai import OpenAIBackend  # noqa: E402
from digest.config import load_settings  # noqa: E402
from digest.sources.ingest import ingest_paths  # noqa: E402
from digest.store import open_db  # noqa: E402
from digest.summarize import pending_papers, summarize_papers  # noqa: E402

SEEDS = REPO / "examples" / "dumps"
_PIECES = re.compile(r"\w+|[^\w\s]")


def seeded_db(folder: Path):
    db = open_db(folder / "bench.db")
    ingest_paths(db, [SEEDS])
    return db


def backend_for(
    url: str,
    concurrency: int,
    mode: str = "json_schema",
    rpm: float | None = None,
    retries: int = 0,
) -> OpenAIBackend:
    settings = load_settings(
        env={},
        **{
            "llm.base_url": url,
            "llm.model": "bench-model",
            "llm.concurrency": concurrency,
            "llm.structured_output": mode,
            "llm.max_retries": retries,
            "llm.timeout": 10.0,
            "llm.requests_per_minute": rpm,
        },
    )
    return OpenAIBackend.from_settings(settings, env={})


def start_server(latency: float, rpm: float | None = None) -> tuple[subprocess.Popen[str], str]:
    limit = ["--rpm", str(rpm)] if rpm else []
    server = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests" / "openai_server.py"),
            "--latency",
            str(latency),
            *limit,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = server.stdout.readline().strip() if server.stdout else ""
    if not url.startswith("http://"):
        raise SystemExit("the fake server did not start")
    return server, url


def throughput(latency: float, levels: list[int], folder: Path, papers: int = 40) -> list[str]:
    """Table rows for one server latency: the sequential baseline, then each concurrency
    (`papers` at concurrency 1, 20 per request slot above that: about 2 s of work each)."""
    server, url = start_server(latency)
    try:
        db = seeded_db(folder)
        stored = pending_papers(db, backend_for(url, 1))
        sequential = sequential_rate(url, stored[:papers], backend_for(url, 1))
        rows = [
            f"| {latency * 1000:.0f} ms | sequential calls | {sequential:.1f} "
            f"| {1 / latency:.1f} | {100 * sequential * latency:.0f}% | 1.0x | {papers} | 0 |"
        ]
        for level in levels:
            backend = backend_for(url, level)
            batch = pending_papers(db, backend, force=True)[: max(papers, papers // 2 * level)]
            started = time.perf_counter()
            report = summarize_papers(db, backend, batch)
            rate = report.done / (time.perf_counter() - started)
            ideal = level / latency
            rows.append(
                f"| {latency * 1000:.0f} ms | {level} | {rate:.1f} | {ideal:.1f} "
                f"| {100 * rate / ideal:.0f}% | {rate / sequential:.1f}x | {report.done} "
                f"| {report.fell_back} |"
            )
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(timeout=10)
    return rows


def sequential_rate(url: str, papers: list, backend: OpenAIBackend) -> float:
    """Plain synchronous calls, one after another: what a naive loop achieves."""
    client = openai.OpenAI(base_url=url, api_key="bench", max_retries=0)
    started = time.perf_counter()
    for paper in papers:
        client.chat.completions.create(**backend.request_for(paper))
    client.close()
    return len(papers) / (time.perf_counter() - started)


def estimate(text: str) -> tuple[float, int]:
    return len(text) / 4, len(_PIECES.findall(text))


def tokens(folder: Path) -> list[str]:
    lines = [
        "Tokens per paper, over every seed paper. No tokenizer is installed, so each cell "
        "gives two estimates: characters / 4 (the usual rule for English) and word pieces "
        "(every run of letters or digits and every punctuation mark counts one; high for "
        "JSON, low for prose). The fixed overhead is everything sent except the title and "
        "abstract: system prompt, fence, and the response format's schema. Completion: a "
        "reply of realistic length (the offline summary of the same paper written as the "
        "JSON reply), since the fake server's replies are shorter.",
        "",
        "| structured_output | paper (title + abstract) | fixed overhead | prompt in all "
        "| completion |",
        "|---|---:|---:|---:|---:|",
    ]
    db = seeded_db(folder)
    offline = OfflineBackend(load_settings(env={}).tags)
    with FakeOpenAI() as server:
        for mode in ("json_schema", "json_object", "none"):
            backend = backend_for(server.url, 8, mode)
            papers = pending_papers(db, backend, force=True)
            server.requests.clear()
            summarize_papers(db, backend, papers)
            by_title = {fence_safe(p.title, 10_000): p for p in papers}
            paper_t, over_t, total_t, done_t = [], [], [], []
            for body in server.requests:
                if len(body["messages"]) != 2:
                    continue  # a repair request: not the normal shape
                sent = "".join(m["content"] for m in body["messages"])
                sent += (
                    json.dumps(body["response_format"], separators=(",", ":"))
                    if body.get("response_format")
                    else ""
                )
                user = body["messages"][1]["content"]
                title = user.split("<title>", 1)[1].split("</title>", 1)[0]
                abstract = user.split("<abstract>\n", 1)[1].rsplit("\n</abstract>", 1)[0]
                paper = by_title[title]
                summary = offline.summarize(paper)
                reply = json.dumps(
                    {"tldr": summary.tldr, "summary": summary.summary, "tags": list(summary.tags)}
                )
                paper_t.append(estimate(title + abstract))
                over_t.append(estimate(sent.replace(title, "", 1).replace(abstract, "", 1)))
                total_t.append(estimate(sent))
                done_t.append(estimate(reply))
            lines.append(
                f"| {mode} | {_mean(paper_t)} | {_mean(over_t)} | {_mean(total_t)} "
                f"| {_mean(done_t)} |"
            )
    lines += [
        "",
        f"Means over {len(paper_t)} papers. The chat format adds a few tokens per "
        "message (two messages per request), not included.",
    ]
    return lines


def _mean(values: list[tuple[float, int]]) -> str:
    return (
        f"{statistics.fmean(v[0] for v in values):.0f} / "
        f"{statistics.fmean(v[1] for v in values):.0f}"
    )


def rate_limited(folder: Path, rpm: float, papers: int, concurrency: int = 8) -> list[str]:
    """One run with the server enforcing `rpm` (429 + Retry-After above it), paced by
    [llm] requests_per_minute and not paced: papers/s, requests, 429s, fallbacks."""
    import httpx

    rows = [
        "",
        f"At a rate limit: the server allows {rpm:g} requests a minute ({rpm / 60:g}/s, one "
        f"second's worth in a burst) and answers 429 with Retry-After above it; concurrency "
        f"{concurrency}, 50 ms latency, {papers} papers, the SDK retrying up to 5 times. "
        "Target: within the limit, without 429 storms.",
        "",
        "| pacing | papers/s | limit /s | requests sent | answered 429 | fell back |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, pace in (("`requests_per_minute` = limit", rpm), ("none", None)):
        server, url = start_server(0.05, rpm)
        try:
            db = open_db(folder / f"rate-{label[:4]}.db")
            ingest_paths(db, [SEEDS])
            backend = backend_for(url, concurrency, rpm=pace, retries=5)
            batch = pending_papers(db, backend)[:papers]
            started = time.perf_counter()
            report = summarize_papers(db, backend, batch)
            rate = report.done / (time.perf_counter() - started)
            stats = httpx.get(url.removesuffix("/v1") + "/stats").json()
        finally:
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(timeout=10)
        rows.append(
            f"| {label} | {rate:.1f} | {rpm / 60:g} | {stats['requests'] + stats['rate_limited']}"
            f" | {stats['rate_limited']} | {report.fell_back} |"
        )
        print(rows[-1], flush=True)
    return rows


def report(quick: bool, latencies: list[float], levels: list[int]) -> str:
    """Run both measurements; the Markdown section for the docs."""
    lines = [
        "## LLM backend: papers per second and tokens per paper",
        "",
        "Through the real driver (AsyncOpenAI, reply validation, one SQLite commit per "
        "paper) against `tests/openai_server.py` in its own process, answering every "
        "request after a fixed latency. Ideal = concurrency / latency; sequential = the "
        "synchronous openai client, one request after another. Target: at concurrency 8, "
        "at least 90% of ideal.",
        "",
        "| latency | concurrency | papers/s | ideal | of ideal | vs sequential | papers "
        "| fell back |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for latency in latencies:
        with tempfile.TemporaryDirectory() as folder:
            rows = throughput(latency, levels, Path(folder), papers=20 if quick else 40)
            lines += rows
            print("\n".join(rows), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        lines += rate_limited(Path(folder), rpm=600, papers=40 if quick else 100)
    with tempfile.TemporaryDirectory() as folder:
        lines += ["", *tokens(Path(folder))]
    return "\n".join(lines) + "\n\n" + stamp()


def main(
    quick: bool = False, latencies: list[float] | None = None, levels: list[int] | None = None
) -> None:
    """Measure, print, and refresh the `llm` sections of docs/benchmarks.md and docs/llm.md."""
    latencies = latencies or ([0.05] if quick else [0.05, 0.2, 0.5])
    levels = levels or [1, 4, 8, 16]
    body = report(quick, latencies, levels)
    print(body)
    write_section("llm", body)
    guide = REPO / "docs" / "llm.md"
    if guide.exists():
        text = guide.read_text(encoding="utf-8")
        guide.write_text(replace_section(text, "llm", body), encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer papers, one latency")
    parser.add_argument(
        "--latency", type=float, nargs="+", help="seconds per request (default: 0.05, 0.2 and 0.5)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", help="default: 1 4 8 16")
    args = parser.parse_args()
    main(args.quick, args.latency, args.concurrency)

"""Bytes of the email's HTML part by number of papers, against Gmail's clipping point.

    python bench/email_size.py [--quick]

Gmail shows only the first ~102 KB of an email's HTML, then "[Message
clipped]": the papers past that point and the footer with the unsubscribe
link are hidden. This renders real emails (the seed dumps and two recorded
Hugging Face days, with authors, upvotes, arXiv, code and project links,
interleaved; summarised offline; tests/email_papers.py) for 10 to 100
papers and reports the HTML and text sizes, how many papers are shown (past
`HTML_BUDGET` the email shows what fits and says "and N more"), the bytes a
paper adds, and the render time (median of a few renders). Sizes are exact
and the same on every machine; only the times vary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine_line, median, stamp, table, write_section

sys.path.insert(0, str(REPO / "tests"))  # the realistic papers the email tests use

from email_papers import build_library, mixed  # noqa: E402

from digest.config import Settings  # noqa: E402
from digest.mail.compose import FULL_PAPERS, HTML_BUDGET, render_email  # noqa: E402
from digest.models import Subscriber  # noqa: E402

COUNTS = (5, 10, 25, 50, 75, 100)
GMAIL_CLIP = 102_000
READER = Subscriber(email="ada@example.org", name="Ada", id=1)


def measure(papers: list[dict], runs: int) -> list[dict]:
    settings = Settings()
    settings.digest.public_url = "https://papers.example.org/"
    rows = []
    for n in COUNTS:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            email = render_email(settings, READER, papers[:n], "2026-12-01")
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "papers": n,
                "shown": email.papers,
                "html": email.size,
                "text": len(email.text.encode("utf-8")),
                "ms": median(times) * 1000,
            }
        )
    return rows


def render(rows: list[dict], runs: int) -> str:
    by = {r["papers"]: r for r in rows}
    compact = (by[50]["html"] - by[25]["html"]) / 25
    full = (by[10]["html"] - by[5]["html"]) / 5
    lines = [
        "## Email size: never clipped",
        "",
        "`python bench/email_size.py`. The HTML part of one reader's email (CSS inlined and"
        " minified, @media rules kept in one `<style>`) for the papers of the seed dumps and two"
        " recorded Hugging Face days (live papers with authors, upvotes, arXiv, code and project"
        f" links, taking turns with dump papers); the first {FULL_PAPERS} in full, the rest"
        f" compact. Gmail clips past ~{GMAIL_CLIP:,} B; the email keeps under"
        f' {HTML_BUDGET:,} B by showing what fits and saying "and N more" (the rest stay due).'
        f" Render time: median of {runs} renders.",
        "",
        table(
            [
                "papers",
                "shown",
                "HTML bytes",
                "HTML bytes / shown paper",
                "text bytes",
                "render ms",
                "under 90 KB",
            ],
            [
                [
                    r["papers"],
                    r["shown"],
                    f"{r['html']:,}",
                    f"{r['html'] / r['shown']:,.0f}",
                    f"{r['text']:,}",
                    f"{r['ms']:.1f}",
                    "yes" if r["html"] < 90_000 else "NO",
                ]
                for r in rows
            ],
        ),
        "",
        f"Each compact paper adds about {compact:,.0f} B (its table-of-contents line included),"
        f" a full one about {full:,.0f} B. Before this layout (one 600 px card, every paper in"
        " full, long inline styles) 25 papers took 86-89 KB and 30 papers passed the clipping"
        " point.",
        "",
        stamp(),
    ]
    return "\n".join(lines)


def main(quick: bool = False) -> None:
    runs = 3 if quick else 7
    print(f"email size benchmark on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        library = build_library(Path(tmp) / "digest.db")
        papers = mixed(library, max(COUNTS))
        rows = measure(papers, runs)
    body = render(rows, runs)
    print()
    print(body)
    print(f"\nwritten to {write_section('email_size', body)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 renders per size, not 7")
    main(quick=parser.parse_args().quick)

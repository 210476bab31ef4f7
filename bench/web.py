"""The readers' web application under load while a daily run is in progress.

    python bench/web.py [--quick]

`digest web` runs as its own process on 127.0.0.1 against a database of the
seed papers with N subscribers. Then a real `digest run` (a synthetic dump of
new papers to ingest and summarise, then an email to every subscriber through
the file outbox) starts on the same database, and 50 concurrent clients
(httpx, one event loop, keep-alive) request, one endpoint after the other:

* GET /                      the latest digest page
* GET /tag/llm/feed.atom     a tag's Atom feed
* POST /u/TOKEN              RFC 8058 one-click unsubscribe, each request a
                             different subscriber's token (a real write)

The same three are measured again once the run has finished (idle), side by
side. Requests/second is completed requests over the phase's wall time; p50
and p95 are per-request latencies. A failure is any non-2xx answer or
transport error. The run must finish with exit status 0 and every one-click
POST must have unsubscribed its reader (checked in the database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import SEEDS, machine_line, stamp, table, write_dump, write_section

from digest.backends import get_backend
from digest.config import Settings
from digest.signing import make_token
from digest.sources.ingest import ingest_paths
from digest.store import open_db
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber
from digest.summarize import pending_papers, summarize_papers

CLIENTS = 50
SECRET = "bench-signing-key-0123456789abcdef"
FULL = {"seconds": 8.0, "subscribers": 3000, "new_papers": 3000}
QUICK = {"seconds": 3.0, "subscribers": 1500, "new_papers": 1500}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(folder: Path, subscribers: int) -> tuple[Path, list[str]]:
    """A summarised library with `subscribers` readers; their one-click paths."""
    db_path = folder / "digest.db"
    db = open_db(db_path)
    ingest_paths(db, [SEEDS])
    backend = get_backend("offline", Settings())
    summarize_papers(db, backend, pending_papers(db, backend))
    paths = []
    with db.atomic():
        for n in range(subscribers):
            sub_id, _ = save_subscriber(
                db, make_subscriber(f"reader{n}@example.org", vocabulary=[], max_papers=10)
            )
            paths.append(f"/u/{make_token(SECRET, 'unsubscribe', sub_id, 0)}")
    db.conn.close()
    return db_path, paths


async def _load(base: str, kind: str, seconds: float, paths: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                if kind == "post":
                    if not paths:
                        return
                    request = client.post(
                        paths.pop(),
                        content=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                    )
                else:
                    request = client.get(kind)
                start = time.perf_counter()
                try:
                    reply = await request
                    ok = 200 <= reply.status_code < 300
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                failures += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        wall = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50": pick(0.50),
        "p95": pick(0.95),
        "failures": failures,
    }


ENDPOINTS = (
    ("GET /", "/"),
    ("GET /tag/llm/feed.atom", "/tag/llm/feed.atom"),
    ("POST /u/TOKEN", "post"),
)


def measure(folder: Path, seconds: float, subscribers: int, new_papers: int) -> dict:
    db_path, paths = prepare(folder, subscribers)
    port = _port()
    (folder / "digest.toml").write_text(
        f'db = "{db_path}"\n[web]\npublic_url = "http://127.0.0.1:{port}"\nport = {port}\n'
        f'[email]\noutbox_dir = "{folder / "outbox"}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env |= {"DIGEST_WEB_SECRET": SECRET, "DIGEST_CONFIG": str(folder / "digest.toml")}
    dump = write_dump(folder / "new.txt", new_papers, seed=11)
    cmd = [sys.executable, "-m", "digest"]
    web = subprocess.Popen([*cmd, "web"], env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        run = subprocess.Popen(
            [*cmd, "run", str(dump)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # the run is ingesting
        during, posted = {}, 0
        for label, kind in ENDPOINTS:
            before = len(paths)
            during[label] = asyncio.run(_load(base, kind, seconds, paths))
            posted += before - len(paths)
        running_after = run.poll() is None
        out, err = run.communicate(timeout=3600)
        idle = {}
        for label, kind in ENDPOINTS:
            before = len(paths)
            idle[label] = asyncio.run(_load(base, kind, seconds, paths))
            posted += before - len(paths)
    finally:
        web.terminate()
        web.wait(timeout=30)
    db = open_db(db_path)
    left = db.execute("SELECT COUNT(*) FROM subscribers WHERE active = 0").fetchone()[0]
    return {
        "during": during,
        "idle": idle,
        "run_status": run.returncode,
        "run_line": out.strip().splitlines()[-1] if out.strip() else err.strip()[-200:],
        "running_after": running_after,
        "posted": posted,
        "unsubscribed": left,
        "subscribers": subscribers,
    }


def render(result: dict, quick: bool, seconds: float) -> str:
    rows = []
    for label, _ in ENDPOINTS:
        d, i = result["during"][label], result["idle"][label]
        rows.append(
            [
                label,
                f"{d['rps']:.0f}",
                f"{d['p50']:.0f}",
                f"{d['p95']:.0f}",
                f"{d['failures']}",
                f"{i['rps']:.0f}",
                f"{i['p95']:.0f}",
                f"{i['failures']}",
            ]
        )
    head = [
        "endpoint",
        "req/s (run)",
        "p50 ms (run)",
        "p95 ms (run)",
        "failed (run)",
        "req/s (idle)",
        "p95 ms (idle)",
        "failed (idle)",
    ]
    state = "still running" if result["running_after"] else "finished early"
    return "\n".join(
        [
            "## Readers' web application (`bench/web.py`)",
            "",
            f"{CLIENTS} concurrent loopback clients, {seconds:.0f} s per endpoint, against"
            f" `digest web` while a `digest run` (new papers to ingest and summarise, then"
            f" {result['subscribers']:,} emails) works on the same database, then idle."
            f" Target: no failed request, the run finishes.",
            "",
            table(head, rows),
            "",
            f"The run: exit status {result['run_status']} ({result['run_line']}); it was {state}"
            f" when the loaded phases ended. One-click POSTs: {result['posted']:,} sent,"
            f" {result['unsubscribed']:,} readers unsubscribed in the database."
            + (" (quick run)" if quick else ""),
            "",
            stamp(),
        ]
    )


def main(quick: bool = False) -> None:
    cfg = QUICK if quick else FULL
    print(f"web benchmark on {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-web-") as tmp:
        result = measure(Path(tmp), cfg["seconds"], cfg["subscribers"], cfg["new_papers"])
    body = render(result, quick, cfg["seconds"])
    print(body)
    if result["run_status"] != 0 or any(
        r["failures"] for phase in ("during", "idle") for r in result[phase].values()
    ):
        print("FAILED: a request failed or the run did not finish cleanly", file=sys.stderr)
    print(f"\nwritten to {write_section('web', body)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases, fewer readers")
    main(parser.parse_args().quick)

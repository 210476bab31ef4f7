"""The scale of the Hugging Face list: thousands of readers, a year of history.

    python bench/scale.py [--quick]                      # sizes, per-reader times, status
    python bench/scale.py --send 12000 --connections 4   # + one day's send through a relay
    python bench/scale.py --send 12000 --points 12000x365  # one point; printed, not written

Only the full grid rewrites docs/benchmarks.md; --quick and --points print their table.

Builds simulated databases with the project's schema (readers x days of
delivery history: 60% of readers unfiltered, 30% with 1-3 tags, 10% with
keywords; 60 new papers a day, every reader emailed every day) and measures:
the database size, the per-reader cost of deciding a digest (the selection
step: rejected streak, pending digest, sent today?, the due papers) at 30 and
365 days of history, rendering, `digest status`, and (with --send) one day's
send to every reader through an aiosmtpd relay in its own process that takes
50 ms over each message, beside a plain smtplib loop over the same number of
connections, with the peak memory of the sending process.

How the history is written: each group of readers with the same filters gets,
day after day, exactly what the selection rule gives them (the window, the
max_papers cap, nothing twice; papers matched with the same tags and the same
full-text index), so readers with the same filters share their digests as the
real sender's `selections` do. The days are written in the form the pruning
leaves them (older than the window: archived digests; within it: deliveries
and `delivered` rows), then the real `prune` runs once. Building through the
sender itself (4.4 million emails) would take hours; tests/test_scale.py
checks, at small scale, that the sender and the pruning leave this form.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from _scale_world import FULL, QUICK, build, plans
from common import machine_line, median, stamp, table, write_section

from digest.config import Settings
from digest.store import open_db


def per_reader(path: Path, now: datetime, sample: int = 300) -> dict[str, float]:
    """Median ms per reader of the selection step and of rendering, over a sample."""
    from digest.mail.compose import render_email
    from digest.mail.draft import draft_for, papers_of
    from digest.rank import Ranking
    from digest.store.deliveries import rejected_streak
    from digest.store.subscribers import list_subscribers

    db = open_db(path)
    settings = Settings(db=str(path))
    subs = list_subscribers(db)
    rng = random.Random(3)
    chosen = rng.sample(subs, min(sample, len(subs)))
    day = now.date().isoformat()
    ranking = Ranking(db, settings, now)
    ranking.prepare(chosen)
    select, render = [], []
    for sub in chosen:
        t0 = time.perf_counter()
        rejected_streak(db, sub.id)
        draft = draft_for(db, settings, sub, now, day, ranking, force=False)
        t1 = time.perf_counter()
        render_email(settings, sub, papers_of(db, draft.paper_ids, draft.reasons), day)
        render.append((time.perf_counter() - t1) * 1000)
        select.append((t1 - t0) * 1000)
    db.conn.close()
    return {"select_ms": median(select), "render_ms": median(render)}


def status_time(path: Path) -> float:
    from digest.status import collect

    db = open_db(path)
    settings = Settings(db=str(path))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        collect(db, settings)
        times.append(time.perf_counter() - t0)
    return median(times)


def relay() -> None:
    """Runs in the child: an aiosmtpd relay taking `delay` s per message until stdin closes."""
    import asyncio
    import logging

    from aiosmtpd.controller import Controller

    delay = float(sys.argv[sys.argv.index("--relay") + 1])

    class Relay:
        messages = 0
        size = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
            await asyncio.sleep(delay)
            Relay.messages += 1
            Relay.size += len(envelope.content)
            return "250 OK"

    logging.getLogger("mail.log").setLevel(logging.ERROR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Relay(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print(port, flush=True)
    sys.stdin.read()
    controller.stop()
    print(json.dumps({"messages": Relay.messages, "bytes": Relay.size}), flush=True)


class Relay:
    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--relay", str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())  # type: ignore[union-attr]

    def stop(self) -> dict[str, int]:
        """{"messages": n, "bytes": total} received."""
        out, _ = self.proc.communicate(timeout=120)
        return json.loads(out.strip().splitlines()[-1])


def send_child() -> None:
    """Runs in the child: one day's send of a built database; prints JSON."""
    from digest.mail.delivery import send_digests

    args = dict(zip(sys.argv[2::2], sys.argv[3::2], strict=False))
    path, port = Path(args["--db"]), int(args["--port"])
    settings = Settings(db=str(path))
    settings.email.from_ = "Paper digest <digest@example.org>"
    settings.email.backend, settings.email.smtp_host = "smtp", "127.0.0.1"
    settings.email.smtp_port, settings.email.security = port, "none"
    settings.email.connections = int(args["--connections"])
    db = open_db(path)
    now = datetime.fromisoformat(args["--now"])
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("digest.mail.delivery").addHandler(handler)
    logging.getLogger("digest.mail.delivery").setLevel(logging.INFO)
    t0 = time.perf_counter()
    report = send_digests(db, settings, now=now)
    wall = time.perf_counter() - t0
    renders = next((line for line in said if "renders" in line), "")
    print(
        json.dumps(
            {
                "wall": wall,
                "sent": report.sent,
                "failed": report.failed,
                "rss": peak_rss_mb(),
                "renders": renders,
                "load": os.getloadavg()[0],
            }
        )
    )


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM).

    Not `getrusage().ru_maxrss`: on Linux a child started with fork + exec
    inherits its parent's high-water mark, so a send child of this script
    reported the 800 MB the parent used to build the 12,000 x 365 database."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def send(path: Path, now: datetime, connections: int, delay: float) -> dict[str, Any]:
    relay = Relay(delay)
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--send-child",
                "--db",
                str(path),
                "--port",
                str(relay.port),
                "--connections",
                str(connections),
                "--now",
                now.isoformat(),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        received = relay.stop()
    result = json.loads(out.strip().splitlines()[-1])
    result["received"] = received["messages"]
    result["mean_bytes"] = received["bytes"] // max(1, received["messages"])
    return result


def plain_loop(count: int, connections: int, delay: float, size: int = 40_000) -> float:
    """Seconds for a bare smtplib loop: `connections` threads, one reused connection
    each, pre-built messages of `size` bytes (the mean size of the digests just sent),
    no database, no rendering."""
    relay = Relay(delay)
    body = ("x" * 76 + "\r\n") * (size // 78)
    message = f"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n\r\n{body}"

    def worker(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=30) as smtp:
            for _ in range(n):
                smtp.sendmail("a@example.org", ["b@example.org"], message)

    share = [count // connections + (i < count % connections) for i in range(connections)]
    threads = [threading.Thread(target=worker, args=(n,)) for n in share]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    relay.stop()
    return wall


POINTS: list[tuple[int, int]] | None = None  # --points overrides the grid


def _points(quick: bool) -> Iterator[tuple[int, int]]:
    if POINTS:
        yield from POINTS
        return
    readers, days = QUICK if quick else FULL
    for r in readers:
        for d in days:
            yield r, d


def main(quick: bool = False, send_readers: int | None = None, connections: int = 4) -> None:
    work = Path(tempfile.mkdtemp(prefix="digest-scale-"))
    rows, per = [], {}
    try:
        for readers, days in _points(quick):
            path = work / f"r{readers}_d{days}.db"
            built = build(path, readers, days)
            times = per_reader(path, built["send_now"])
            status_s = status_time(path)
            per[(readers, days)] = times
            rows.append(
                [
                    f"{readers:,}",
                    days,
                    f"{built['deliveries']:,}",
                    built["profiles"],
                    f"{built['size_mb']:,.0f}",
                    f"{built['build_s']:.0f}",
                    f"{times['select_ms']:.2f}",
                    f"{times['render_ms']:.1f}",
                    f"{status_s:.2f}",
                ]
            )
            print(rows[-1], flush=True)
            if not (send_readers and readers == send_readers and days == max(_points_days(quick))):
                path.unlink()
                continue
            sent = send(path, built["send_now"], connections, 0.05)
            bare = plain_loop(min(2000, readers), connections, 0.05, sent["mean_bytes"])
            per["send"] = {**sent, "bare_per_s": min(2000, readers) / bare, "readers": readers}
            print(per["send"], flush=True)
            path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if quick or POINTS is not None:
        # A partial grid is printed, never written over the full one in docs/benchmarks.md.
        print(_body(rows, per, connections))
    else:
        write_section("scale", _body(rows, per, connections))


def _points_days(quick: bool) -> list[int]:
    return [d for _, d in _points(quick)]


def _body(rows: list, per: dict, connections: int) -> str:
    lines = [
        "## Scale: thousands of readers, a year of history",
        "",
        "`python bench/scale.py --send 12000`. Simulated databases (bench/scale.py says how"
        " they are written): 60% of readers unfiltered, 30% with 1-3 tags, 10% with keywords;"
        " 60 papers a day; every reader emailed every day. *Select* is the per-reader"
        " selection step of a send (rejected streak, pending digest, sent today?, the due"
        " papers), *render* both bodies of one reader's email in full (a send renders each"
        " distinct digest once and fills readers in: digest/mail/bodies.py); medians over 300"
        " readers. *Status* is"
        " `digest status` (the summary), median of 3.",
        "",
        table(
            [
                "readers",
                "days",
                "emails in history",
                "filter groups",
                "DB MB",
                "build s",
                "select ms",
                "render ms",
                "status s",
            ],
            rows,
        ),
    ]
    points = [k for k in per if isinstance(k, tuple)]
    readers = max((r for r, _ in points), default=None)
    days = sorted(d for r, d in points if r == readers)
    if readers and len(days) > 1:
        a, b = per[(readers, days[0])]["select_ms"], per[(readers, days[-1])]["select_ms"]
        lines += [
            "",
            f"Selection at {days[-1]} days vs {days[0]} days ({readers:,} readers):"
            f" {b:.2f} ms vs {a:.2f} ms ({(b / a - 1) * 100:+.0f}%; target within 20%).",
        ]
    if "send" in per:
        s = per["send"]
        ours = s["sent"] / s["wall"]
        lines += [
            "",
            f"One day's send to {s['readers']:,} readers through a relay taking 50 ms per"
            f" message, `[email] connections = {connections}`: {s['sent']:,} sent"
            f" ({s['received']:,} received, {s['failed']} failed) in {s['wall']:.0f} s,"
            f" **{ours:.1f} emails/s** (target: under 300 s), peak RSS {s['rss']:.0f} MB"
            f" (VmHWM of the sending process), load average {s['load']:.1f} at the end;"
            f" {s['renders']}. A bare smtplib loop over {connections} connections"
            f" (no database, no rendering, messages of the same mean size,"
            f" {s['mean_bytes'] / 1000:.0f} kB) reaches {s['bare_per_s']:.1f} emails/s:"
            f" ours is **{ours / s['bare_per_s']:.2f}** of it.",
        ]
    lines += ["", stamp()]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--relay" in sys.argv:
        relay()
    elif "--send-child" in sys.argv:
        send_child()
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--quick", action="store_true")
        parser.add_argument("--send", type=int, metavar="READERS", help="also send at this size")
        parser.add_argument("--connections", type=int, default=4)
        parser.add_argument("--points", help="READERSxDAYS,... instead of the grid")
        parser.add_argument("--plans", action="store_true", help="only the query plans")
        opts = parser.parse_args()
        if opts.plans:
            with tempfile.TemporaryDirectory() as folder:
                build(Path(folder) / "plans.db", 100, 30)
                write_section("scale-plans", plans(Path(folder) / "plans.db"))
            sys.exit(0)
        if opts.points:
            POINTS = [tuple(map(int, p.split("x"))) for p in opts.points.split(",")]
        print(f"scale on {machine_line()}", flush=True)
        main(opts.quick, opts.send, opts.connections)
        os._exit(0)

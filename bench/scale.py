"""The scale of the Hugging Face list: thousands of readers, a year of history.

    python bench/scale.py [--quick]                      # sizes, per-reader times, status
    python bench/scale.py --send 12000 --connections 4   # + one day's send through a relay

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
import os
import random
import resource
import secrets
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import machine_line, median, stamp, synthetic, table, write_section

from digest.config import Settings
from digest.store import open_db
from digest.store.prune import prune, prune_horizon
from digest.store.selections import selection_id
from digest.store.summaries import fts_query

T0 = datetime(2025, 1, 1, 7, 0, tzinfo=UTC)  # the first digest day, 07:00 UTC
PER_DAY, CAP, WINDOW = 60, 25, 7
KEYWORDS = (
    "diffusion",
    "agent",
    "reasoning",
    "benchmark",
    "video",
    "robot",
    "speech",
    "graph",
    "reinforcement",
    "retrieval",
    "3D",
    "language",
    "vision",
    "efficient",
    "attention",
    "alignment",
    "medical",
    "code",
    "math",
    "multimodal",
)
FULL = ([1000, 4000, 12000], [30, 90, 365])
QUICK = ([1000], [30, 90])


def build(path: Path, readers: int, days: int, seed: int = 1) -> dict[str, Any]:
    """A database with `days` days of papers and history for `readers` readers;
    the next send is on day `days` (its 60 papers arrived that morning)."""
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    db = open_db(path)
    settings = Settings()
    vocab = settings.vocabulary
    weights = [1 / (n + 1) for n in range(len(vocab))]  # a few tags are popular
    start = time.perf_counter()
    papers, summaries = [], []
    texts = synthetic((days + 1) * PER_DAY, seed)
    for day in range(days + 1):
        seen = (T0 + timedelta(days=day, hours=-1)).isoformat()
        for rank in range(1, PER_DAY + 1):
            pid = day * PER_DAY + rank
            title, abstract = next(texts)
            tags = sorted(set(rng.choices(vocab, weights, k=rng.randint(1, 3))))
            papers.append(
                {
                    "id": pid,
                    "key": f"k{pid}",
                    "title": title,
                    "abstract": abstract,
                    "first_seen": seen,
                    "last_seen": seen,
                    "best_rank": rank,
                }
            )
            summaries.append(
                {
                    "paper_id": pid,
                    "backend": "offline",
                    "model": "extractive",
                    "prompt_version": "bench",
                    "tldr": abstract.split(". ")[0][:200],
                    "summary": abstract[:400],
                    "tags": json.dumps(tags),
                    "created": seen,
                }
            )
    db["papers"].insert_all(papers, batch_size=2000)
    db["summaries"].insert_all(summaries, batch_size=2000)
    tags_of = {s["paper_id"]: set(json.loads(s["tags"])) for s in summaries}
    first_day = {p["id"]: (p["id"] - 1) // PER_DAY for p in papers}
    # Readers and their filters; readers with the same filters form one profile.
    subs, profile_of = [], []
    profiles: dict[tuple[str, tuple[str, ...]], int] = {}
    for n in range(readers):
        kind = "all" if n % 10 < 6 else ("tags" if n % 10 < 9 else "keywords")
        if kind == "tags":
            words = tuple(sorted(set(rng.choices(vocab, weights, k=rng.randint(1, 3)))))
        elif kind == "keywords":
            words = tuple(sorted(set(rng.choices(KEYWORDS, k=rng.randint(1, 2)))))
        else:
            words = ()
        profile_of.append(profiles.setdefault((kind, words), len(profiles)))
        joined = (T0 - timedelta(days=1)).isoformat()
        subs.append(
            {
                "id": n + 1,
                "email": f"reader{n:05d}@example.org",
                "tags": json.dumps(list(words) if kind == "tags" else []),
                "exclude_tags": "[]",
                "keywords": json.dumps(list(words) if kind == "keywords" else []),
                "active": 1,
                "created": joined,
                "updated": joined,
                "active_since": joined,
                "frequency": "daily",
                "match": "all",
                "last_sent": (T0 + timedelta(days=days - 1)).isoformat() if days else None,
            }
        )
    db["subscribers"].insert_all(subs, batch_size=2000)
    # What each profile matches, with the real index for keywords.
    matches: list[set[int] | None] = []
    for kind, words in profiles:
        if kind == "all":
            matches.append(None)
        elif kind == "tags":
            matches.append({p for p, t in tags_of.items() if t & set(words)})
        else:
            query = " OR ".join(f"({fts_query(k)})" for k in words)
            rows = db.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", [query])
            matches.append({r[0] for r in rows})
    # Day by day, what each profile was sent: due = in the window, matching, not sent yet.
    sent_by_day: list[list[list[int]]] = []  # profile -> day -> paper ids
    for match in matches:
        due: list[int] = []
        delivered: set[int] = set()
        days_sent = []
        for day in range(days):
            new = range(day * PER_DAY + 1, (day + 1) * PER_DAY + 1)
            due += [p for p in new if match is None or p in match]
            due = [p for p in due if first_day[p] > day - WINDOW and p not in delivered]
            due.sort(key=lambda p: ((p - 1) % PER_DAY, first_day[p], p))
            today, due = due[:CAP], due[CAP:]
            delivered.update(today)
            days_sent.append(today)
        sent_by_day.append(days_sent)
    send_now = T0 + timedelta(days=days)
    cut = prune_horizon(WINDOW, send_now)
    cut_day = cut[:10]
    known: dict[tuple[int, ...], int] = {}

    def shared(ids: list[int]) -> int | None:
        if not ids:
            return None
        if tuple(ids) not in known:
            known[tuple(ids)] = selection_id(db, ids)
        return known[tuple(ids)]

    with db.atomic():
        sel = [[shared(ids) for ids in d] for d in sent_by_day]
    archive, recent, done = [], [], []
    delivery_id = 0
    for n in range(readers):
        prof = profile_of[n]
        for day in range(days):
            ids = sent_by_day[prof][day]
            if not ids:
                continue
            delivery_id += 1
            date = (T0 + timedelta(days=day)).date().isoformat()
            mid = (
                f"<{date.replace('-', '')}T070000.{delivery_id % 10**6:06d}Z."
                f"{secrets.token_hex(5)}.digest@example.org>"
            )
            if date < cut_day:
                archive.append((n + 1, date, delivery_id, mid, sel[prof][day]))
                continue
            at = (T0 + timedelta(days=day, minutes=n % 60)).isoformat()
            recent.append((delivery_id, n + 1, mid, date, at, at, len(ids), sel[prof][day]))
            done += [(n + 1, p, delivery_id) for p in ids if papers[p - 1]["first_seen"] >= cut]
        if len(archive) > 200_000:
            _flush(db, archive, recent, done)
    _flush(db, archive, recent, done)
    prune(db, WINDOW, send_now)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return {
        "build_s": time.perf_counter() - start,
        "profiles": len(profiles),
        "deliveries": delivery_id,
        "size_mb": path.stat().st_size / 1e6,
        "send_now": send_now,
    }


def _flush(db: Any, archive: list, recent: list, done: list) -> None:
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO delivery_archive (subscriber_id, digest_date, id, message_id,"
            " selection_id) VALUES (?, ?, ?, ?, ?)",
            archive,
        )
        db.conn.executemany(
            "INSERT INTO deliveries (id, subscriber_id, message_id, digest_date, status,"
            " attempts, created, sent_at, paper_count, selection_id)"
            " VALUES (?, ?, ?, ?, 'sent', 1, ?, ?, ?, ?)",
            recent,
        )
        db.conn.executemany(
            "INSERT INTO delivered (subscriber_id, paper_id, delivery_id) VALUES (?, ?, ?)", done
        )
    archive.clear()
    recent.clear()
    done.clear()


def per_reader(path: Path, now: datetime, sample: int = 300) -> dict[str, float]:
    """Median ms per reader of the selection step and of rendering, over a sample."""
    from digest.draft import draft_for, papers_of
    from digest.mail import render_email
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

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
            await asyncio.sleep(delay)
            Relay.messages += 1
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
    print(json.dumps({"messages": Relay.messages}), flush=True)


class Relay:
    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--relay", str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())  # type: ignore[union-attr]

    def stop(self) -> int:
        out, _ = self.proc.communicate(timeout=120)
        return json.loads(out.strip().splitlines()[-1])["messages"]


def send_child() -> None:
    """Runs in the child: one day's send of a built database; prints JSON."""
    from digest.delivery import send_digests

    args = dict(zip(sys.argv[2::2], sys.argv[3::2], strict=False))
    path, port = Path(args["--db"]), int(args["--port"])
    settings = Settings(db=str(path))
    settings.email.from_ = "Paper digest <digest@example.org>"
    settings.email.backend, settings.email.smtp_host = "smtp", "127.0.0.1"
    settings.email.smtp_port, settings.email.security = port, "none"
    settings.email.connections = int(args["--connections"])
    db = open_db(path)
    now = datetime.fromisoformat(args["--now"])
    t0 = time.perf_counter()
    report = send_digests(db, settings, now=now)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "sent": report.sent, "failed": report.failed, "rss": rss}))


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
    result["received"] = received
    return result


def plain_loop(count: int, connections: int, delay: float, size: int = 40_000) -> float:
    """Seconds for a bare smtplib loop: `connections` threads, one reused connection
    each, pre-built messages of `size` bytes (a digest's size), no database, no rendering."""
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
            bare = plain_loop(min(2000, readers), connections, 0.05)
            per["send"] = {**sent, "bare_per_s": min(2000, readers) / bare, "readers": readers}
            print(per["send"], flush=True)
            path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_section("scale", _body(rows, per, connections))


# The per-reader questions a send and `digest status` ask, as the code asks them.
PLANS = {
    "pending digest (retry it first)": (
        "SELECT * FROM deliveries WHERE subscriber_id = ? AND status = 'pending'",
        [5],
    ),
    "sent on this digest day?": (
        "SELECT 1 FROM deliveries WHERE subscriber_id = ? AND digest_date = ?"
        " AND status = 'sent' LIMIT 1",
        [5, "2025-01-30"],
    ),
    "latest email (status)": (
        "SELECT sent_at, paper_count FROM deliveries WHERE subscriber_id = ? AND status = 'sent'"
        " ORDER BY digest_date DESC, id DESC LIMIT 1",
        [5],
    ),
    "weekly reader: last digest day": (
        "SELECT MAX(digest_date) FROM deliveries WHERE subscriber_id = ? AND status = 'sent'",
        [5],
    ),
    "rejected streak": (
        "SELECT error FROM deliveries WHERE subscriber_id = ? AND status = 'failed'"
        " AND created >= ? ORDER BY id DESC",
        [5, ""],
    ),
    "due papers": (
        "SELECT p.id FROM papers p WHERE p.first_seen >= ? AND NOT EXISTS"
        " (SELECT 1 FROM delivered d WHERE d.subscriber_id = ? AND d.paper_id = p.id)"
        " AND EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)"
        " ORDER BY p.best_rank, p.first_seen, p.id",
        ["2025-01-24", 5],
    ),
    "claim: papers already delivered": (
        "SELECT paper_id FROM delivered WHERE subscriber_id = ? AND paper_id IN (?, ?)",
        [5, 1, 2],
    ),
    "status: digests waiting for a retry": (
        "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
        [],
    ),
}


def plans(path: Path) -> str:
    """EXPLAIN QUERY PLAN of every per-reader query, as a Markdown section."""
    db = open_db(path)
    lines = [
        "## Scale: query plans",
        "",
        "`python bench/scale.py --plans`. `EXPLAIN QUERY PLAN` of the per-reader queries"
        " on a built database: each is a SEARCH on an index keyed by the reader (or, for"
        " the due papers, on `first_seen` within the window), never a SCAN of the history;"
        " the temporary B-trees sort only the window's papers or a reader's failed digests.",
        "",
    ]
    for name, (sql, params) in PLANS.items():
        steps = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
        lines += [f"- {name}:", "  ```", *[f"  {s}" for s in steps], "  ```"]
    db.conn.close()
    lines += ["", stamp()]
    return "\n".join(lines)


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
        " papers), *render* both bodies of the email; medians over 300 readers. *Status* is"
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
    days = sorted({d for (r, d) in per if isinstance(r, int)} if per else [])
    readers = max((r for r, _ in per if isinstance(r, int)), default=None)
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
            f" **{ours:.1f} emails/s** (target: under 300 s), peak RSS {s['rss']:.0f} MB."
            f" A bare smtplib loop over {connections} connections (no database, no rendering)"
            f" reaches {s['bare_per_s']:.1f} emails/s: ours is {ours / s['bare_per_s']:.2f} of it.",
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

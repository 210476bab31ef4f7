"""Email fan-out: one day's digest rendered and delivered to 1,000 subscribers.

    python bench/fanout.py [--quick] [--subscribers 1000]

A library of the seed papers (ingested and summarised offline once) gets N
subscribers without filters; `digest.mail.delivery.send_digests` then renders and
sends each one their email (25 papers, the default cap) through

* smtp: an aiosmtpd server on 127.0.0.1 in its own process (so it does not
  share our GIL), over one reused connection, plain SMTP;
* file: the outbox folder (`.eml` plus `.html` per message, atomic writes).

Emails per second is N over the wall time of the whole `send_digests` call
(selection, recording each digest before and after, rendering, sending).
The time is split without a profiler, inside the same run: the sending
(main) thread's steps for each reader are wrapped with timers (selection,
rendering, MIME, the two store writes, waiting on the connection threads);
they never nest, so with "other" they add up to the wall time. The
transport's `send` runs in the connection thread (`digest.mail.sendpool`),
overlapping the main thread's work, so it is reported per message beside
the split, not inside it. Each backend runs on a
fresh copy of the same database, interleaved, medians of the repeats.
It also checks that the templates are compiled once per process, not once
per subscriber, by counting `Environment.compile` calls during the fan-out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common import SEEDS, machine_line, median, stamp, table, write_section

import digest.mail.delivery as delivery
from digest.backends import get_backend
from digest.config import Settings
from digest.mail.bodies import SharedBodies
from digest.mail.sendpool import SendPool
from digest.mail.transport import FileTransport, SMTPTransport
from digest.render import environment
from digest.sources.ingest import ingest_paths
from digest.store import open_db
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber
from digest.summarize import pending_papers, summarize_papers

FULL, QUICK = (1000, 3), (100, 3)  # subscribers, repeats
BACKENDS = ("smtp", "file")


def build_library(path: Path, subscribers: int) -> Settings:
    """Seed papers, summarised offline, and `subscribers` readers without filters."""
    settings = Settings(db=str(path))
    settings.email.from_ = "Paper digest <digest@example.org>"
    db = open_db(path)
    ingest_paths(db, [SEEDS])
    backend = get_backend("offline", settings)
    summarize_papers(db, backend, pending_papers(db, backend))
    for i in range(subscribers):
        sub = make_subscriber(
            f"reader{i:04d}@example.org", vocabulary=settings.vocabulary, name=f"Reader {i}"
        )
        save_subscriber(db, sub)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return settings


class TimedTransport:
    """Wraps a transport; adds the time spent in send() and close() to `spent`."""

    def __init__(self, inner: Any, spent: Counter[str]) -> None:
        self.inner, self.spent, self.name = inner, spent, inner.name

    def send(self, msg: Any, sender: str, recipient: str) -> str:
        start = time.perf_counter()
        try:
            return self.inner.send(msg, sender, recipient)
        finally:
            self.spent["send"] += time.perf_counter() - start

    def close(self) -> None:
        start = time.perf_counter()
        try:
            self.inner.close()
        finally:
            self.spent["send"] += time.perf_counter() - start


# The main thread's steps of a send, each timed where send_digests calls it; they
# never nest, so with the rest ("other": the loop, outcomes) they add up to the wall time.
STEPS = {
    "rejected_streak": "select",
    "draft_for": "select",
    "papers_of": "select",
    "start_delivery": "store",
    "commit_result": "store",
    "wire_message": "mime",
}
PARTS = ("select", "render", "mime", "store", "wait")


@contextlib.contextmanager
def timed_steps(spent: Counter[str]) -> Iterator[None]:
    """Time, in the sending (main) thread, every step send_digests takes for a reader:
    selection, rendering (the shared renders included), MIME, the two store writes,
    and the time it waits on the connection threads (a full queue, the last results)."""
    originals = {name: getattr(delivery, name) for name in STEPS}
    render, submit, finish = SharedBodies.render, SendPool.submit, SendPool.finish

    def wrap(part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - start

        return timed_call

    def wrap_gen(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """The pool's generators: only the time inside them (waiting), not the caller's
        commits between two results."""

        def timed_gen(*args: Any, **kwargs: Any) -> Iterator[Any]:
            inner = fn(*args, **kwargs)
            while True:
                start = time.perf_counter()
                try:
                    item = next(inner)
                except StopIteration:
                    return
                finally:
                    spent["wait"] += time.perf_counter() - start
                yield item

        return timed_gen

    for name, fn in originals.items():
        setattr(delivery, name, wrap(STEPS[name], fn))
    SharedBodies.render = wrap("render", render)  # type: ignore[method-assign]
    SendPool.submit = wrap_gen(submit)  # type: ignore[method-assign]
    SendPool.finish = wrap_gen(finish)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(delivery, name, fn)
        SharedBodies.render, SendPool.submit, SendPool.finish = render, submit, finish  # type: ignore[method-assign]


@contextlib.contextmanager
def compile_counter() -> Iterator[Counter[str]]:
    """Count template compilations (by template name) in the shared Jinja environment."""
    env = environment(None)
    counts: Counter[str] = Counter()
    original = env.compile

    def counting(source: Any, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        counts[name or "?"] += 1
        return original(source, name, *args, **kwargs)

    env.compile = counting  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        del env.compile  # back to the class's method


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[int, Callable[[], dict[str, int]]]]:
    """An aiosmtpd server in a child process; yields (port, stop) where stop() returns
    what it received: {"messages": n, "bytes": total}."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--smtp-sink"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, int] = {}

    def stop() -> dict[str, int]:
        if not result:
            out, _ = proc.communicate(timeout=60)
            result.update(json.loads(out.strip().splitlines()[-1]))
        return result

    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield port, stop
    finally:
        if proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
                stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def serve_sink() -> None:
    """Runs in the child: count what arrives until stdin closes, then print it as JSON."""
    import logging

    from aiosmtpd.controller import Controller

    class Sink:
        messages = 0
        size = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
            Sink.messages += 1
            Sink.size += len(envelope.content)
            return "250 OK"

    logging.getLogger("mail.log").setLevel(logging.ERROR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print(port, flush=True)
    sys.stdin.read()
    controller.stop()
    print(json.dumps({"messages": Sink.messages, "bytes": Sink.size}), flush=True)


def fan_out(template: Path, settings: Settings, backend: str, work: Path) -> dict[str, Any]:
    """One send_digests to every subscriber of a fresh copy of the library."""
    db_path = work / f"{backend}.db"
    shutil.copyfile(template, db_path)
    db = open_db(db_path)
    spent: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        if backend == "smtp":
            port, stop = stack.enter_context(smtp_sink())
            inner: Any = SMTPTransport("127.0.0.1", port, security="none", timeout=30)
        else:
            outbox = work / "outbox"
            shutil.rmtree(outbox, ignore_errors=True)
            inner = FileTransport(outbox)
        compiled = stack.enter_context(compile_counter())
        stack.enter_context(timed_steps(spent))
        start = time.perf_counter()
        report = delivery.send_digests(
            db, settings, transport=TimedTransport(inner, spent), sleep=lambda _s: None
        )
        wall = time.perf_counter() - start
        stack.close()  # stops the server and restores the wrapped functions
        arrived = stop()["messages"] if backend == "smtp" else len(list(outbox.glob("*.eml")))
    papers = db.execute("SELECT COUNT(*) FROM delivered").fetchone()[0]
    db.conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    if report.sent != arrived or report.failed:
        raise RuntimeError(f"{backend}: {report.line}, but {arrived} messages arrived")
    return {
        "wall": wall,
        "sent": report.sent,
        "papers": papers,
        "compiled": sum(compiled.values()),
        "load": os.getloadavg()[0],
        **{k: spent[k] for k in (*PARTS, "send")},
    }


def measure(subscribers: int, repeats: int, work: Path) -> dict[str, Any]:
    template = work / "library.db"
    settings = build_library(template, subscribers)
    environment.cache_clear()  # start from no compiled template at all
    runs: dict[str, list[dict[str, Any]]] = {b: [] for b in BACKENDS}
    for rep in range(repeats):
        for backend in BACKENDS if rep % 2 == 0 else BACKENDS[::-1]:  # interleaved
            runs[backend].append(fan_out(template, settings, backend, work))
            r = runs[backend][-1]
            print(
                f"  {backend}: {r['sent']:,} emails in {r['wall']:.2f} s"
                f" ({r['sent'] / r['wall']:,.0f}/s), templates compiled {r['compiled']}x",
                flush=True,
            )
    return {"subscribers": subscribers, "repeats": repeats, "runs": runs}


def render(result: dict[str, Any], quick: bool) -> str:
    n = result["subscribers"]
    rows = []
    for backend, runs in result["runs"].items():
        wall = median([r["wall"] for r in runs])
        parts = {k: median([r[k] for r in runs]) for k in (*PARTS, "send")}
        other = wall - sum(parts[k] for k in PARTS)

        def per(seconds: float, wall: float = wall) -> str:
            return f"{seconds / n * 1000:.2f} ({seconds / wall:.0%})"

        rows.append(
            [
                backend,
                f"{n:,}",
                len(runs),
                f"{wall:.2f}",
                f"**{n / wall:,.0f}**",
                *(per(parts[k]) for k in PARTS),
                per(other),
                f"{parts['send'] / n * 1000:.2f}",
            ]
        )
    compiled = [r["compiled"] for runs in result["runs"].values() for r in runs]
    first, later = compiled[0], sum(compiled[1:])
    once = first <= 2 and later == 0
    papers = result["runs"]["smtp"][0]["papers"] // n
    loads = [r["load"] for runs in result["runs"].values() for r in runs]
    return "\n".join(
        [
            "## Email fan-out: one digest to many subscribers",
            "",
            "`python bench/fanout.py`"
            + (" `--quick`" if quick else "")
            + f". {n:,} subscribers without filters, {papers} papers each (the default cap),"
            " the seed papers summarised offline. `digest.mail.delivery.send_digests` renders and"
            " sends every email: *smtp* through an aiosmtpd server on 127.0.0.1 in its own"
            " process (one reused connection, plain SMTP), *file* into the outbox folder."
            " Per-email milliseconds of the sending thread (share of the wall time), timed"
            " inside the same runs around each step: *select* (rejected streak, the due"
            " papers, their rows), *render* (both bodies, CSS inlining; one render per distinct"
            " digest, digest/mail/bodies.py), *MIME* (the message's bytes), *store* (recording the"
            " digest before sending and the result after), *wait* (for a free connection or the"
            " last results), *other* the rest; these add up to the wall time. *send* is the"
            " transport's time per message in its connection thread, overlapping the rest."
            " Medians of interleaved repeats, each on a fresh copy of the database; load"
            f" average {min(loads):.1f}-{max(loads):.1f} after the runs (other work shares"
            " the 2 cores).",
            "",
            table(
                [
                    "Backend",
                    "subscribers",
                    "repeats",
                    "wall s",
                    "emails/s",
                    "select ms",
                    "render ms",
                    "MIME ms",
                    "store ms",
                    "wait ms",
                    "other ms",
                    "send ms (thread)",
                ],
                rows,
            ),
            "",
            table(
                ["Check", "result", "target", "met"],
                [
                    [
                        "template compilations (`Environment.compile` calls)",
                        f"{first} in the first fan-out, {later} in the {len(compiled) - 1} after",
                        "once per template per process, not per subscriber",
                        "yes" if once else "**no**",
                    ]
                ],
            ),
            "",
            stamp(),
        ]
    )


def main(quick: bool = False, subscribers: int | None = None) -> None:
    n, repeats = QUICK if quick else FULL
    n = subscribers or n
    print(f"fan-out benchmark on {machine_line()}: {n:,} subscribers", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-fanout-") as tmp:
        result = measure(n, repeats, Path(tmp))
    body = render(result, quick)
    print()
    print(body)
    print(f"\nwritten to {write_section('fanout', body)}")


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK[0]} subscribers")
    parser.add_argument("--subscribers", type=int, help=f"how many (default {FULL[0]})")
    parser.add_argument("--smtp-sink", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse()
    if args.smtp_sink:
        serve_sink()
    else:
        main(quick=args.quick, subscribers=args.subscribers)

"""Sending over a pool of reused connections, at most `max_per_minute`.

The sender (digest.mail.delivery) selects, records and renders each digest in the
main thread, which alone uses the database; `[email] connections` worker
threads each own one transport (one SMTP connection, reused, reopened when
the server drops it) and hand messages over. Rendering the next digests thus
overlaps the network wait of the ones in flight, and a slow or failing
connection holds back only its own message.

Exactly once is unchanged: a digest is recorded (`pending`, claimed by the
one-pending-per-reader index) before it is queued, exactly one worker sends
it, and the main thread marks it sent only after that message's own 250
(`Result`), committing results as they come, in whatever order.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from digest.mail.mime import Wire
from digest.mail.transport import SendFailure, Transport


@dataclass
class Job:
    """One recorded digest to send: `slot` says whose outcome it fills in."""

    slot: int
    message: EmailMessage | Wire
    sender: str
    recipient: str
    context: Any = None  # what the caller needs to commit the result


@dataclass
class Result:
    job: Job
    where: str | None = None  # set when the server accepted the message
    failures: list[SendFailure] = field(default_factory=list)  # one per failed attempt
    skipped: bool = False  # not tried: the server was already failing for another job
    reason: str = ""  # why it was skipped
    crash: BaseException | None = None  # raised by the transport: re-raised in the caller

    @property
    def sent(self) -> bool:
        return self.where is not None


class Pacer:
    """At most `per_minute` sends a minute across all connections, evenly spaced."""

    def __init__(
        self,
        per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.gap = 60.0 / per_minute if per_minute else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.gap:
            return
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.gap
        if slot > now:
            self.sleep(slot - now)


class SendPool:
    """Worker threads sending queued jobs; results come back to the caller's thread.

    `transports` makes one transport per worker (closed at the end). A job is
    tried up to `attempts` times on temporary failures, waiting `backoff(n)`
    between tries; a failure of the server itself (`SendFailure.server`) makes
    the workers skip the jobs still queued (they stay recorded as pending and
    are sent by the next run, as a sequential send would).
    """

    def __init__(
        self,
        transports: Callable[[], Transport],
        *,
        connections: int = 1,
        attempts: int = 1,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Callable[[int], float] = lambda n: 0.0,
    ) -> None:
        self.attempts, self.sleep, self.backoff = max(1, attempts), sleep, backoff
        self.pacer = pacer or Pacer(None)
        self.server_down: SendFailure | None = None
        # Until one message is accepted, jobs go one at a time: a server that is
        # down fails one digest, not one per connection, and the readers after
        # it are not even recorded (as a sequential send would leave them).
        self.proven = False
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=2 * connections)
        self._results: queue.Queue[Result] = queue.Queue()
        self._open = 0
        self._transports: list[Transport] = []
        self._threads = []
        for n in range(max(1, connections)):
            transport = transports()
            self._transports.append(transport)
            thread = threading.Thread(
                target=self._work, args=(transport,), name=f"digest-send-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job: Job) -> Iterator[Result]:
        """Queue a job (waiting while the queue is full); yields the results
        that arrived meanwhile, for the caller to commit."""
        self._open += 1
        while True:
            yield from self._ready()
            try:
                self._jobs.put(job, timeout=0.05)
                break
            except queue.Full:
                continue
        while not self.proven and self._open and self.server_down is None:
            self._open -= 1
            yield _checked(self._results.get())
        yield from self._ready()

    def finish(self) -> Iterator[Result]:
        """Yield every remaining result, then stop the workers and close the transports."""
        try:
            while self._open:
                result = self._results.get()
                self._open -= 1
                yield _checked(result)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers after the messages in hand. Jobs still queued (when the
        caller stops early: an error, Ctrl-C) are dropped unsent: their digests stay
        recorded as pending and go out, with the same Message-ID, next run."""
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        for transport in self._transports:
            transport.close()
        self._threads = []

    def _ready(self) -> Iterator[Result]:
        while True:
            try:
                result = self._results.get_nowait()
            except queue.Empty:
                return
            self._open -= 1
            yield _checked(result)

    def _work(self, transport: Transport) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                result = self._send(transport, job)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                result = Result(job, crash=exc)
            self._results.put(result)

    def _send(self, transport: Transport, job: Job) -> Result:
        result = Result(job)
        for attempt in range(1, self.attempts + 1):
            if self.server_down is not None:
                result.skipped = not result.failures
                result.reason = str(self.server_down)
                if result.skipped:
                    return result
                break
            self.pacer.wait()
            try:
                result.where = transport.send(job.message, job.sender, job.recipient)
                self.proven = True
                return result
            except SendFailure as failure:
                result.failures.append(failure)
                if not failure.temporary:
                    if failure.server:
                        self.server_down = failure
                    return result
                if attempt < self.attempts:
                    self.sleep(self.backoff(attempt))
        last = result.failures[-1]
        if last.server:
            self.server_down = last
        return result


def _checked(result: Result) -> Result:
    if result.crash is not None:
        raise result.crash
    return result

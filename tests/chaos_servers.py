"""The loopback servers of the chaos harness: they inject faults and SIGKILL the client.

Both servers run in the harness's own process and know the `digest run`
subprocess of the current round (`target`), so they can kill it at moments a
timer cannot hit reliably:

* `KillingOpenAI` (tests/openai_server.py's FakeOpenAI) kills the client when
  the Nth model request of the round arrives, i.e. while it is summarising;
* `ChaosSMTPHandler` (aiosmtpd) kills the client right after it has kept an
  accepted message and before replying 250: the window between the server's
  acceptance and the client's commit, where a resend is unavoidable.

Faults are drawn at random per request / message: 429, 500 and truncated JSON
for the model; 451, a dropped connection, and a dropped connection after the
message was kept ("drop_after_accept") for SMTP. Nothing in digest/ knows
about any of this: the faults come from the servers' side only.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openai_server import FakeOpenAI
from smtp_server import BoundController

LLM_FAULTS = ("429", "500", "truncated")
SMTP_FAULTS = ("451", "drop", "drop_after_accept")


def kill_and_wait(proc: subprocess.Popen[bytes] | None) -> bool:
    """SIGKILL our own child and return once it is dead; False if it had already ended.

    Popen.send_signal checks that the child was not reaped yet, so a recycled
    pid can never be hit.
    """
    if proc is None or proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    return True


class KillingOpenAI(FakeOpenAI):
    """FakeOpenAI with random faults and a kill on the Nth request of a round."""

    def __init__(self, rng: random.Random, **options: Any) -> None:
        super().__init__(**options)
        self.rng = rng
        self.fault_rate = 0.0
        self.faults_sent: Counter[str] = Counter()
        self.target: subprocess.Popen[bytes] | None = None
        self.kill_at: int | None = None
        self.round_requests = 0
        self.killed = False
        self._chaos = threading.Lock()

    def new_round(
        self, target: subprocess.Popen[bytes] | None, fault_rate: float, kill_at: int | None
    ) -> None:
        with self._chaos:
            self.target, self.fault_rate, self.kill_at = target, fault_rate, kill_at
            self.round_requests, self.killed = 0, False

    def disarm(self) -> None:
        """The round is over: forget its client and any kill not yet done (keep the counts)."""
        with self._chaos:
            self.target, self.kill_at, self.fault_rate = None, None, 0.0

    def _fault(self, body: dict[str, Any]) -> str | None:
        fault = super()._fault(body)
        with self._chaos:
            self.round_requests += 1
            if self.kill_at is not None and self.round_requests >= self.kill_at:
                self.kill_at = None
                self.killed = kill_and_wait(self.target)
                return "drop"  # the client is dead: nobody to answer
            if fault is None and self.rng.random() < self.fault_rate:
                fault = self.rng.choice(LLM_FAULTS)
                self.faults_sent[fault] += 1
        return fault


@dataclass
class Kept:
    """A message the SMTP server accepted (kept), as it arrived."""

    rcpt_tos: list[str]
    data: bytes
    round: int


class ChaosSMTPHandler:
    """Keeps every accepted message; draws a fault per DATA; may kill the client."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fault_rate = 0.0
        self.kept: list[Kept] = []
        self.faults_sent: Counter[str] = Counter()
        self.target: subprocess.Popen[bytes] | None = None
        self.kill_after: int | None = None
        self.round = 0
        self.round_data = 0  # DATA commands seen this round
        self.round_kept = 0
        self.killed = False
        self._lock = threading.Lock()

    def new_round(
        self,
        number: int,
        target: subprocess.Popen[bytes] | None,
        fault_rate: float,
        kill_after: int | None,
    ) -> None:
        with self._lock:
            self.round, self.target = number, target
            self.fault_rate, self.kill_after = fault_rate, kill_after
            self.round_data = self.round_kept = 0
            self.killed = False

    def disarm(self) -> None:
        """The round is over: forget its client and any kill not yet done (keep the counts)."""
        with self._lock:
            self.target, self.kill_after, self.fault_rate = None, None, 0.0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd hook
        with self._lock:
            self.round_data += 1
            fault = None
            if self.rng.random() < self.fault_rate:
                fault = self.rng.choice(SMTP_FAULTS)
                self.faults_sent[fault] += 1
            if fault == "451":
                return "451 4.3.0 Temporary failure, try again later"
            if fault == "drop":
                server.transport.abort()
                return "451 dropped"
            self.kept.append(Kept(list(envelope.rcpt_tos), bytes(envelope.content), self.round))
            self.round_kept += 1
            if fault == "drop_after_accept":
                server.transport.abort()
                return "250 reply lost"
            if self.kill_after is not None and self.round_kept >= self.kill_after:
                self.kill_after = None
                # Kept, but the client dies before it can read the 250 and commit.
                self.killed = kill_and_wait(self.target)
                server.transport.abort()
                return "250 never read"
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def chaos_smtp(handler: ChaosSMTPHandler) -> Iterator[int]:
    """Serve plain SMTP on 127.0.0.1 with `handler` for the block; yields the port."""
    controller = BoundController(handler, ready_timeout=10)
    # Dropped connections make aiosmtpd and asyncio complain: keep it out of the output.
    quiet = [logging.getLogger(name) for name in ("mail.log", "asyncio")]
    before = [logger.propagate for logger in quiet]
    sink = logging.NullHandler()
    for logger in quiet:
        logger.propagate = False
        logger.addHandler(sink)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()
        for logger, propagate in zip(quiet, before, strict=True):
            logger.propagate = propagate
            logger.removeHandler(sink)

"""Kill `digest run` with SIGKILL at random moments, many times over, with faults injected.

Each round starts the real CLI (`python -m digest --config digest.toml run`)
as a subprocess against a dumps folder, a fake OpenAI server and an aiosmtpd
server (tests/chaos_servers.py), with random model faults (429, 500, bad JSON)
and SMTP faults (451, dropped connections), and kills it in one of four ways:

    timer   SIGKILL after a random delay (start-up, ingest, summarising, sending)
    ingest  SIGKILL shortly after the run is recorded, while a large dump is ingested
    llm     the model server kills it when the Nth request of the round arrives
    smtp    the SMTP server kills it after keeping a message, before replying 250

New dumps are added between rounds so there is fresh work. After the kill
rounds, clean rounds (no faults, no kills) run until a run has nothing left to
do; then chaos_check compares what every subscriber received with what they
should have received. Used by tests/test_chaos.py (short) and bench/chaos.py (long).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chaos_check import Verdict, check
from chaos_servers import ChaosSMTPHandler, KillingOpenAI, chaos_smtp, kill_and_wait
from chaos_setup import MAX_AGE_DAYS, SUBSCRIBERS, Dumps, Store, write_config
from tests_support import REPO

KINDS = ("timer", "ingest", "llm", "smtp")


@dataclass
class ChaosSettings:
    kills: int = 60
    seed: int = 7
    first_papers: int = 12  # the first dump
    fresh_papers: int = 5  # each later dump of new papers
    heavy_entries: int = 1500  # the large dumps the `ingest` kills land in (mostly known papers)
    llm_fault_rate: float = 0.2  # per model request
    smtp_fault_rate: float = 0.25  # per message
    latency: float = 0.01  # seconds per model request
    calm: float = 0.15  # share of rounds with faults but no kill
    max_rounds: int = 0  # kill rounds at most; 0: 3 x kills + 20
    max_clean_rounds: int = 80
    round_timeout: float = 120.0


@dataclass
class Round:
    number: int
    kind: str | None  # planned kill, None for a calm or clean round
    killed: bool
    exit_code: int | None
    seconds: float
    llm_requests: int
    smtp_attempts: int
    smtp_kept: int
    phase: str = ""  # where the kill landed, as far as the servers and the store saw


@dataclass
class ChaosReport:
    settings: ChaosSettings
    rounds: list[Round]
    clean_rounds: int
    settled: bool  # a clean run found nothing left to do
    verdict: Verdict
    llm_faults: Counter[str]
    smtp_faults: Counter[str]
    papers: int
    messages: int
    resent_messages: int  # kept messages whose Message-ID had arrived before
    seconds: float
    tracebacks: list[str] = field(default_factory=list)

    @property
    def kills(self) -> Counter[str]:
        return Counter(r.kind for r in self.rounds if r.killed)

    @property
    def phases(self) -> Counter[str]:
        return Counter(r.phase for r in self.rounds if r.killed)

    @property
    def unexplained_resends(self) -> int:
        """Resends beyond the moments a server kept a message its client could not record
        (a kill after acceptance, a connection dropped after acceptance, a kill while
        sending): any other resend would be a digest sent twice for no reason."""
        windows = (
            self.phases["SMTP accepted, not committed"]
            + self.phases["send"]
            + self.smtp_faults["drop_after_accept"]
        )
        return max(0, self.resent_messages - windows)

    @property
    def ok(self) -> bool:
        return (
            self.verdict.ok
            and self.settled
            and not self.tracebacks
            and self.unexplained_resends == 0
        )


class Chaos:
    """The rounds of one chaos run in `work`; see run_chaos."""

    def __init__(
        self,
        work: Path,
        settings: ChaosSettings,
        llm: KillingOpenAI,
        smtp: ChaosSMTPHandler,
        rng: random.Random,
    ) -> None:
        self.work, self.settings, self.llm, self.smtp, self.rng = work, settings, llm, smtp, rng
        self.store = Store(work / "digest.db")
        self.dumps = Dumps(work / "dumps", random.Random(rng.random()))
        self.rounds: list[Round] = []
        self.tracebacks: list[str] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
        # `python -m digest` finds this checkout's package even where it is not installed.
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p
        )

    def _durations(self) -> float:
        """A typical uninterrupted run, in seconds (the timer kill's range)."""
        done = sorted(r.seconds for r in self.rounds if not r.killed)
        return max(done[len(done) // 2], 0.5) if done else 1.5

    def prepare(self, kind: str | None) -> None:
        """Add the dumps a round of this kind needs to have something to kill."""
        s = self.settings
        if kind == "ingest":
            self.dumps.heavy(s.heavy_entries)
            return
        needed = kind == "smtp" or (kind == "llm" and self.store.unsummarised() < 2)
        if needed or self.rng.random() < 0.5:
            self.dumps.fresh(s.fresh_papers)

    def round(self, kind: str | None, faults: bool) -> Round:
        s, number = self.settings, len(self.rounds) + 1
        kill_at = self.rng.randint(1, max(1, min(self.store.unsummarised() + 2, 8)))
        kill_after = self.rng.randint(1, 2)
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        deliveries_before = self.store.last_delivery()
        started = time.monotonic()
        with (logs / f"{number:03d}.out").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "digest", "--config", "digest.toml", "run", "--force"],
                cwd=self.work,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                self.llm.new_round(
                    proc, s.llm_fault_rate if faults else 0.0, kill_at if kind == "llm" else None
                )
                self.smtp.new_round(
                    number,
                    proc,
                    s.smtp_fault_rate if faults else 0.0,
                    kill_after if kind == "smtp" else None,
                )
                self._wait(proc, kind)
            finally:
                kill_and_wait(proc)  # whatever happened, no child outlives its round
                self.llm.disarm()
                self.smtp.disarm()
                seconds = time.monotonic() - started
        text = (logs / f"{number:03d}.out").read_text(encoding="utf-8", errors="replace")
        if "Traceback" in text:
            self.tracebacks.append(f"round {number}: {text[-2000:]}")
        killed = proc.returncode == -signal.SIGKILL
        result = Round(
            number,
            kind,
            killed,
            proc.returncode,
            seconds,
            self.llm.round_requests,
            self.smtp.round_data,
            self.smtp.round_kept,
        )
        if killed:
            result.phase = self._phase(result, proc.pid, deliveries_before)
        self.rounds.append(result)
        return result

    def _wait(self, proc: subprocess.Popen[bytes], kind: str | None) -> None:
        timeout = self.settings.round_timeout
        if kind == "timer":
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self.rng.uniform(0.05, self._durations()))
            kill_and_wait(proc)
        elif kind == "ingest":
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                if self.store.run_of(proc.pid):  # recorded: ingest comes next
                    time.sleep(self.rng.uniform(0.0, 0.08))
                    kill_and_wait(proc)
                    break
                time.sleep(0.003)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.tracebacks.append(f"round {len(self.rounds) + 1}: no exit within {timeout} s")

    def _phase(self, r: Round, pid: int, deliveries_before: int) -> str:
        if self.smtp.killed:
            return "SMTP accepted, not committed"
        if self.llm.killed:
            return "summarise"
        if r.smtp_attempts or self.store.last_delivery() > deliveries_before:
            return "send"
        if not self.store.run_of(pid):
            return "start-up (run not recorded yet)"
        if self.dumps.hashes - self.store.ingested():
            return "ingest"
        if r.llm_requests or self.store.unsummarised():
            return "summarise"
        return "after ingest, before sending"


def run_chaos(work: Path, settings: ChaosSettings | None = None, say=print) -> ChaosReport:  # noqa: ANN001
    """The whole run in `work` (an empty folder): kill rounds, clean rounds, the check."""
    s = settings or ChaosSettings()
    rng = random.Random(s.seed)
    started = time.monotonic()
    (work / "dumps").mkdir(parents=True, exist_ok=True)
    llm = KillingOpenAI(random.Random(rng.random()), latency=s.latency)
    handler = ChaosSMTPHandler(random.Random(rng.random()))
    with llm, chaos_smtp(handler) as port:
        write_config(work, llm.url, port)
        chaos = Chaos(work, s, llm, handler, rng)
        chaos.dumps.fresh(s.first_papers)
        kills, tries = 0, 0
        queue: list[str | None] = []
        while kills < s.kills and len(chaos.rounds) < (s.max_rounds or 3 * s.kills + 20):
            if not queue:
                queue = rng.sample(KINDS, len(KINDS))
                queue = [None if rng.random() < s.calm else k for k in queue]
            kind = queue[0]
            chaos.prepare(kind)
            r = chaos.round(kind, faults=True)
            say(_line(r))
            kills += r.killed
            tries += 1
            if r.killed or kind is None or tries >= 4:  # a kill that did not fire is retried
                queue.pop(0)
                tries = 0
        clean, settled = 0, False
        while clean < s.max_clean_rounds and not settled:
            r = chaos.round(None, faults=False)
            clean += 1
            say(_line(r, "clean"))
            settled = (
                r.exit_code == 0
                and r.llm_requests == 0
                and r.smtp_attempts == 0
                and chaos.store.pending_deliveries() == 0
            )
        verdict = check(work / "digest.db", handler.kept, SUBSCRIBERS, MAX_AGE_DAYS)
    ids = Counter(_message_id(k.data) for k in handler.kept)
    return ChaosReport(
        settings=s,
        rounds=chaos.rounds,
        clean_rounds=clean,
        settled=settled,
        verdict=verdict,
        llm_faults=llm.faults_sent,
        smtp_faults=handler.faults_sent,
        papers=chaos.store.one("SELECT COUNT(*) FROM papers"),
        messages=len(handler.kept),
        resent_messages=sum(n - 1 for n in ids.values()),
        seconds=time.monotonic() - started,
        tracebacks=chaos.tracebacks,
    )


def _message_id(data: bytes) -> str:
    import email
    import email.policy

    return str(email.message_from_bytes(data, policy=email.policy.default)["Message-ID"]).strip()


def _line(r: Round, label: str = "") -> str:
    what = label or (f"kill:{r.kind}" if r.kind else "calm")
    outcome = f"killed ({r.phase})" if r.killed else f"exit {r.exit_code}"
    return (
        f"round {r.number:3d} {what:<12} {outcome:<36} {r.seconds:5.2f} s,"
        f" {r.llm_requests} model requests, {r.smtp_kept}/{r.smtp_attempts} messages kept"
    )

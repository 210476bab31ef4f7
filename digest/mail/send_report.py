"""What one `digest send` did, reader by reader, in words for the CLI and the run record."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from digest.mail.sendpool import Result
from digest.store.deliveries import mark_failed, mark_sent, record_attempt
from digest.text import plural

# Outcomes that make `digest send` exit with status 1.
FAILED = ("failed", "pending", "skipped")


@dataclass
class Outcome:
    """What happened for one subscriber in this run."""

    email: str
    status: str  # sent | nothing | waiting | failed | pending | skipped | paused | would-send
    papers: int = 0
    detail: str = ""  # where it went, or why not
    server_down: bool = False  # the failure would hit the next subscribers too
    held_back: str = ""  # "3 papers under min relevance 0.1 held back", when any

    @property
    def line(self) -> str:
        held = f"; {self.held_back}" if self.held_back else ""
        return self._line() + held

    def _line(self) -> str:
        count = f"{plural(self.papers, 'paper')}"
        texts = {
            "sent": f"sent {count}" + (f" ({self.detail})" if self.detail else ""),
            "would-send": f"would send {count}" + (f" ({self.detail})" if self.detail else ""),
            "nothing": f"nothing new: {self.detail}",
            "waiting": f"not today: {self.detail}",
            "failed": f"failed: {self.detail}",
            "pending": f"not sent: {self.detail}",
            "skipped": f"not tried: {self.detail}",
            "paused": f"paused: {self.detail}",
        }
        return f"{self.email}: {texts.get(self.status, self.detail)}"


@dataclass
class SendReport:
    """The outcome of one `send_digests` call, for the CLI and the daily run."""

    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(o.status == "sent" for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status in FAILED for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def errors(self) -> list[str]:
        return [o.line for o in self.outcomes if o.status in FAILED]

    @property
    def lines(self) -> list[str]:
        return [o.line for o in self.outcomes]

    @property
    def line(self) -> str:
        """One summary line, e.g. "2 emails sent, 1 failed, 1 with nothing new"."""
        if self.dry_run:
            would = sum(o.status == "would-send" for o in self.outcomes)
            return f"dry run: {plural(would, 'email')} would be sent"
        quiet = sum(o.status == "nothing" for o in self.outcomes)
        later = sum(o.status == "waiting" for o in self.outcomes)
        parts = [f"{plural(self.sent, 'email')} sent"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        if quiet:
            parts.append(f"{quiet} with nothing new")
        if later:
            parts.append(f"{later} weekly not due today")
        return ", ".join(parts)


def commit_result(db: Database, result: Result, stamp: str) -> Outcome:
    """Record what the server said about one digest, and say it in words.

    Accepted: every failed attempt, then `sent` with its papers (one
    transaction). Refused for good (5xx to this reader): `failed`, its papers
    stay due. Otherwise the digest stays `pending` for the next send.
    """
    delivery_id, waiting = result.job.context
    email, papers = waiting.email, waiting.papers
    if result.skipped:
        return Outcome(
            email, "skipped", papers, detail=f"the mail server is failing ({result.reason})"
        )
    failures = result.failures
    for failure in failures[:-1] if not result.sent else failures:
        record_attempt(db, delivery_id, str(failure), now=stamp)
    if result.sent:
        mark_sent(db, delivery_id, now=stamp)
        return Outcome(
            email, "sent", papers, detail=result.where or "", held_back=waiting.held_back
        )
    last = failures[-1]
    if not last.temporary and not last.server:
        mark_failed(db, delivery_id, str(last), now=stamp)
        return Outcome(
            email, "failed", papers, detail=f"{last}; its papers stay due for the next send"
        )
    record_attempt(db, delivery_id, str(last), now=stamp)
    tries = f" (after {len(failures)} attempts)" if len(failures) > 1 else ""
    return Outcome(
        email,
        "pending",
        papers,
        server_down=last.server,
        detail=f"{last}{tries}; the digest is sent again next time",
    )

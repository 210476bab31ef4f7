"""Behaviour that matters once there are many readers: no reader starves when
sends are cut short, a status that stays short, bounded delivery history and
a pool of SMTP connections that still sends each digest exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mail_support import settings_for
from tests_support import SEEDS

from digest.backends import get_backend
from digest.config import Settings
from digest.delivery import send_digests
from digest.models import IngestReport
from digest.sources.dumps import file_hash, parse_dump
from digest.store import open_db
from digest.store.papers import record_entries
from digest.store.subscribers import make_subscriber, save_subscriber
from digest.summarize import pending_papers, summarize_papers

START = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
VOCAB = Settings().vocabulary
FIRST_DUMP = sorted(SEEDS.glob("*.txt"))[0]


def library(path: Path, when: datetime = START):
    """A database whose 52 seed papers were first seen at `when`, summarised offline."""
    db = open_db(path)
    record_entries(
        db,
        parse_dump(FIRST_DUMP),
        kind="dump",
        location=str(FIRST_DUMP),
        content_hash=file_hash(FIRST_DUMP),
        report=IngestReport(str(FIRST_DUMP)),
        now=when.isoformat(),
    )
    backend = get_backend("offline", Settings())
    summarize_papers(db, backend, pending_papers(db, backend))
    return db


def readers(db, count: int, when: datetime = START, **options) -> list[str]:
    emails = [f"reader{n:03d}@example.org" for n in range(count)]
    for email in emails:
        sub = make_subscriber(email, vocabulary=VOCAB, max_papers=1, **options)
        save_subscriber(db, sub, now=(when - timedelta(days=1)).isoformat())
    return emails


def stop_after(n: int):
    """A `should_stop` that lets `n` readers through, then asks to stop (a cut-off run)."""
    asked = [0]

    def should_stop() -> bool:
        asked[0] += 1
        return asked[0] > n

    return should_stop


def test_sends_cut_short_three_days_running_still_reach_every_reader(tmp_path: Path) -> None:
    db = library(tmp_path / "digest.db")
    emails = readers(db, 10)
    settings = settings_for(tmp_path / "digest.db")
    reached: set[str] = set()
    for day in range(3):
        now = START + timedelta(days=day, hours=1)
        report = send_digests(db, settings, now=now, should_stop=stop_after(4))
        sent = [o.email for o in report.outcomes if o.status == "sent"]
        assert len(sent) == 4
        reached |= set(sent)
    assert reached == set(emails)  # in address order, reader004..009 never got one


def test_a_send_serves_the_never_emailed_then_the_longest_waiting(tmp_path: Path) -> None:
    db = library(tmp_path / "digest.db")
    emails = readers(db, 4)
    settings = settings_for(tmp_path / "digest.db")
    first = send_digests(db, settings, now=START, should_stop=stop_after(2))
    assert [o.email for o in first.outcomes] == emails[:2]
    newcomer = readers(db, 5)[4]  # subscribes before the next day's send
    second = send_digests(db, settings, now=START + timedelta(days=1))
    assert [o.email for o in second.outcomes] == [*emails[2:], newcomer, *emails[:2]]
    assert all(o.status == "sent" for o in second.outcomes)

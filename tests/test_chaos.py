"""SIGKILL `digest run` at random moments with model and SMTP faults: nothing is lost.

The short version of bench/chaos.py (which kills 60 times): a few kills of
each kind, then clean runs until nothing is left to do, then what every
subscriber received is compared with what they should have received.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chaos_check import check
from chaos_harness import KINDS, ChaosSettings, run_chaos
from chaos_servers import Kept
from chaos_setup import Dumps

from digest.backends import get_backend
from digest.config import Settings
from digest.mail.compose import build_message, render_email
from digest.sources.ingest import ingest_paths
from digest.store import open_db
from digest.store.subscribers import get_subscriber, save_subscriber
from digest.store.summaries import listing
from digest.subscriptions import make_subscriber
from digest.summarize import pending_papers, summarize_papers


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_paper_and_resends_only_with_the_same_message_id(
    tmp_path: Path,
) -> None:
    report = run_chaos(
        tmp_path / "chaos",
        ChaosSettings(kills=8, seed=3, heavy_entries=800, calm=0.0),
        say=lambda _line: None,
    )
    verdict = report.verdict

    assert report.tracebacks == []
    assert set(report.kills) == set(KINDS), report.kills  # every kind of kill happened
    assert sum(report.kills.values()) >= 8
    assert report.settled, "clean runs never reached a state with nothing left to do"
    assert verdict.lost == 0, [(s.email, s.lost) for s in verdict.subscribers]
    assert all(s.expected > 0 for s in verdict.subscribers)  # every subscriber had papers due
    assert verdict.twice == sum(s.twice_same_id for s in verdict.subscribers)
    # Each kill between acceptance and commit is one resend, under the same Message-ID.
    assert report.resent_messages >= report.kills["smtp"] and verdict.twice >= 1
    assert report.unexplained_resends == 0
    assert (verdict.integrity, verdict.foreign_keys, verdict.fts) == ("ok", 0, "ok")
    assert verdict.anomalies == [] and verdict.pending_deliveries == 0
    assert all(s.unexpected == [] for s in verdict.subscribers)
    assert all(s.recorded_not_received == s.received_not_recorded == 0 for s in verdict.subscribers)
    assert report.ok


def test_the_check_catches_a_lost_paper_and_a_resend_under_a_new_message_id(
    tmp_path: Path,
) -> None:
    """The harness is only worth something if its check can fail."""
    (tmp_path / "dumps").mkdir()
    Dumps(tmp_path / "dumps", random.Random(1)).fresh(4)
    db = open_db(tmp_path / "digest.db")
    ingest_paths(db, [tmp_path / "dumps"])
    settings = Settings(db=str(tmp_path / "digest.db"))
    backend = get_backend("offline", settings)
    summarize_papers(db, backend, pending_papers(db, backend))
    save_subscriber(db, make_subscriber("ada@example.org", vocabulary=settings.vocabulary))
    sub = get_subscriber(db, "ada@example.org")
    papers = listing(db)
    db.conn.close()
    today = datetime.now(UTC).date().isoformat()

    def message(ids: slice, message_id: str) -> Kept:
        rendered = render_email(settings, sub, papers[ids], today)
        msg = build_message(settings, sub, rendered, message_id=message_id, when=datetime.now(UTC))
        return Kept(["ada@example.org"], msg.as_bytes(), 1)

    kept = [message(slice(0, 2), "<one@example.org>"), message(slice(1, 3), "<two@example.org>")]
    verdict = check(tmp_path / "digest.db", kept, [{"email": "ada@example.org"}], 7)

    [ada] = verdict.subscribers
    assert (ada.expected, ada.received, ada.emails) == (4, 3, 2)
    assert ada.lost == [papers[3]["title"]]
    assert (ada.twice, ada.twice_same_id) == (1, 0)  # the same paper under two Message-IDs
    assert ada.received_not_recorded == 3  # nothing of this was recorded as delivered
    assert len(verdict.anomalies) == 2  # neither Message-ID is a digest the store knows
    assert verdict.integrity == "ok" and not verdict.ok

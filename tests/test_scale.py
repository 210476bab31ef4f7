"""Behaviour that matters once there are many readers: no reader starves when
sends are cut short, a status that stays short, bounded delivery history and
a pool of SMTP connections that still sends each digest exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from mail_support import settings_for
from smtp_server import smtp_server
from tests_support import SEEDS

from digest.backends import get_backend
from digest.config import Settings
from digest.mail.delivery import send_digests
from digest.mail.sendpool import Pacer
from digest.models import IngestReport
from digest.sources.dumps import file_hash, parse_dump
from digest.store import open_db
from digest.store.deliveries import pending_delivery, record_attempt, start_delivery
from digest.store.papers import record_entries
from digest.store.prune import history, pruned_counts
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber
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


def test_delivery_detail_older_than_the_window_is_pruned_but_history_kept(tmp_path: Path) -> None:
    db = library(tmp_path / "digest.db")
    emails = readers(db, 3)
    db.execute("UPDATE subscribers SET max_papers = 5")
    settings = settings_for(tmp_path / "digest.db")
    for day in range(16):  # the window (7 days) and a margin (1) pass twice
        send_digests(db, settings, now=START + timedelta(days=day, hours=1))
    # The 52 papers of day 0 were due for 7 days: 7 emails of 5 each, then they aged out.
    sub_id = db.execute("SELECT id FROM subscribers WHERE email = ?", [emails[0]]).fetchone()[0]
    got = history(db, sub_id)
    assert [day for day, _, _ in got] == [
        (START + timedelta(days=d)).date().isoformat() for d in range(7)
    ]
    papers = [p for _, _, ids in got for p in ids]
    assert len(papers) == len(set(papers)) == 35
    # Every reader got the same papers each day: one shared list per day, not one per reader.
    assert db.execute("SELECT COUNT(*) FROM selections").fetchone()[0] == 7
    assert db.execute("SELECT COUNT(*) FROM delivered").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 0
    assert pruned_counts(db) == {"delivered": 3 * 35, "archived": 3 * 7, "failed": 0}
    # Widening the window later cannot make a pruned, delivered paper due again.
    settings.digest.max_age_days = 30
    report = send_digests(db, settings, now=START + timedelta(days=16, hours=1))
    assert report.sent == 0 and {o.status for o in report.outcomes} == {"nothing"}


def test_the_migration_keeps_every_digest_and_its_papers(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from digest.store.migrations import migrations

    old = Database(tmp_path / "old.db")
    migrations.apply(old, stop_before="m070_subscriber_last_sent")
    old["papers"].insert_all(
        {"id": n, "key": f"k{n}", "title": f"t{n}", "abstract": "a", "first_seen": "2026-11-01"}
        for n in range(1, 6)
    )
    old["subscribers"].insert_all(
        [
            {"id": 1, "email": "ada@example.org", "active": 1},
            {"id": 2, "email": "bob@example.org", "active": 1},
        ]
    )
    # Digests 1 (ada) and 2 (bob) hold the same papers; 4 is still pending.
    lists = {1: (1, [3, 1, 2]), 2: (2, [3, 1, 2]), 3: (1, [5]), 4: (1, [4])}
    for pk, (reader, ids) in lists.items():
        old["deliveries"].insert(
            {
                "id": pk,
                "subscriber_id": reader,
                "message_id": f"<m{pk}@x>",
                "digest_date": f"2026-11-0{pk}",
                "status": "pending" if pk == 4 else "sent",
                "sent_at": None if pk == 4 else f"2026-11-0{pk}T07:00:00+00:00",
                "paper_count": len(ids),
            }
        )
        old["delivery_papers"].insert_all(
            {"delivery_id": pk, "paper_id": p, "position": n} for n, p in enumerate(ids)
        )
        if pk != 4:
            old["delivered"].insert_all(
                {"subscriber_id": reader, "paper_id": p, "delivery_id": pk} for p in ids
            )
    old.conn.close()
    db = open_db(tmp_path / "old.db")
    assert [(day, ids) for day, _, ids in history(db, 1)] == [
        ("2026-11-01", [3, 1, 2]),
        ("2026-11-03", [5]),
    ]
    assert [(day, ids) for day, _, ids in history(db, 2)] == [("2026-11-02", [3, 1, 2])]
    assert db.execute("SELECT COUNT(*) FROM selections").fetchone()[0] == 3
    assert pending_delivery(db, 1).paper_ids == [4]
    got = db.execute("SELECT subscriber_id, paper_id FROM delivered ORDER BY 1, 2").fetchall()
    assert [tuple(r) for r in got] == [(1, 1), (1, 2), (1, 3), (1, 5), (2, 1), (2, 2), (2, 3)]
    view = db.execute(
        "SELECT paper_id FROM delivery_papers WHERE delivery_id = 1 ORDER BY position"
    ).fetchall()
    assert [r[0] for r in view] == [3, 1, 2]
    last = db.execute("SELECT last_sent FROM subscribers ORDER BY id").fetchall()
    assert [r[0] for r in last] == ["2026-11-03T07:00:00+00:00", "2026-11-02T07:00:00+00:00"]


def test_status_sums_up_many_readers_and_lists_those_needing_attention(
    invoke, tmp_path: Path
) -> None:
    db = library(tmp_path / "digest.db")
    emails = readers(db, 12)
    settings = settings_for(tmp_path / "digest.db")
    send_digests(db, settings, now=START, should_stop=stop_after(11))
    late = emails[11]
    sub_id = db.execute("SELECT id FROM subscribers WHERE email = ?", [late]).fetchone()[0]
    delivery = start_delivery(
        db, sub_id, [1], message_id="<x@example.org>", digest_date="2026-11-02"
    )
    record_attempt(db, delivery.id, "421 try later", now="2026-11-02T07:05:00+00:00")
    out = invoke("status").stdout
    section = out.split("subscribers:\n", 1)[1].splitlines()
    assert section[:3] == [
        "  12 active readers (0 weekly), 0 unsubscribed; 1 never emailed",
        "  digest of 2026-11-02: 11 emails sent; 1 waiting for a retry",
        "  1 reader needs attention:",
    ]
    assert section[3].startswith(f"    {late}: never emailed; digest of 2026-11-02 (1 paper)")
    assert "last error 2026-11-02 07:05 UTC: 421 try later" in section[3]
    assert section[4] == "  one line per reader: `digest status --all`, or `--subscriber EMAIL`"
    assert "MB)\n  nothing pruned yet" in out
    one = invoke("status", "--subscriber", emails[0]).stdout.split("subscribers:\n", 1)[1]
    assert one.startswith(f"  {emails[0]}: last email 2026-11-02 07:00 UTC (1 paper)")
    assert len(one.splitlines()) == 1
    every = invoke("status", "--all").stdout.split("subscribers:\n", 1)[1].splitlines()
    assert [line.split(":")[0].strip() for line in every] == emails


def test_a_pool_of_connections_sends_each_digest_once_and_reconnects_at_the_relays_limit(
    tmp_path: Path,
) -> None:
    db = library(tmp_path / "digest.db")
    emails = readers(db, 12)
    waits: list[float] = []
    with smtp_server() as server:
        server.faults.per_connection = 2  # then 421 at MAIL FROM: reconnect
        server.faults.delay = 0.02  # a relay's latency: the connections overlap
        settings = settings_for(
            tmp_path / "digest.db",
            backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            security="none",
            connections=3,
        )
        report = send_digests(db, settings, now=START, sleep=waits.append)
        assert [o.email for o in report.outcomes] == emails
        assert {o.status for o in report.outcomes} == {"sent"}
        assert waits == []  # a closed connection is reopened at once, not after a backoff
        ids = [r.message["Message-ID"] for r in server.received]
        assert len(ids) == len(set(ids)) == 12
        assert sorted(r.rcpt_tos[0] for r in server.received) == emails
        # Each connection took at most 2 messages: the pool reopened them, never resent.
        assert server.handler.mails == 12
    recorded = db.execute("SELECT message_id FROM deliveries WHERE status = 'sent'").fetchall()
    assert sorted(r[0] for r in recorded) == sorted(ids)


def test_the_pacer_keeps_to_the_relays_rate_across_connections() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(120, clock=lambda: clock[0], sleep=sleep)  # one every 0.5 s
    for _ in range(5):
        pacer.wait()
    assert slept == [0.5, 0.5, 0.5, 0.5]
    assert Pacer(None, sleep=sleep).wait() is None and len(slept) == 4


def test_connections_and_max_per_minute_must_be_positive(invoke) -> None:
    Path("digest.toml").write_text("[email]\nconnections = 0\n")
    out = invoke("status")
    assert out.exit_code == 2 and "[email] connections must be greater than 0" in out.stderr
    Path("digest.toml").write_text("[email]\nmax_per_minute = -1\n")
    out = invoke("status")
    assert out.exit_code == 2 and "[email] max_per_minute must be greater than 0" in out.stderr


def test_the_summary_counts_ranked_readers_instead_of_a_line_each(invoke, tmp_path: Path) -> None:
    db = library(tmp_path / "digest.db")
    emails = readers(db, 11)
    for email in emails[:2]:
        invoke("subscribe", email, "--interests", "language models")
    out = invoke("status").stdout
    assert "ranking:\n  2 readers are ranked by their interests or votes" in out
    one = invoke("status", "--subscriber", emails[0]).stdout
    assert f"ranking:\n  {emails[0]}: ranked by interests" in one

"""Daily and weekly subscribers, and how tags and keywords combine (--match).

The clock is injected (`now`): papers arrive and digests go out on the days
the test says, through the real store, offline summariser and file outbox.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import oracle
import pytest
from mail_support import settings_for
from tests_support import SEEDS

from digest.backends import get_backend
from digest.cadence import next_weekly, week_start
from digest.config import Settings
from digest.mail.delivery import send_digests
from digest.models import IngestReport
from digest.roster import limits
from digest.sources.dumps import file_hash, parse_dump
from digest.store import open_db
from digest.store.due import select_papers
from digest.store.papers import record_entries
from digest.store.prune import history
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber
from digest.summarize import pending_papers, summarize_papers

MONDAY = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # a Monday, 07:00 UTC
DUMPS = sorted(SEEDS.glob("*.txt"))
VOCAB = Settings().vocabulary


def at(day: int, hour: int = 7) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour - 7)


def arrive(db, dump: Path, when: datetime) -> None:
    """Papers of one dump first seen at `when`, summarised offline."""
    stamp = when.isoformat()
    record_entries(
        db,
        parse_dump(dump),
        kind="dump",
        location=str(dump),
        content_hash=file_hash(dump),
        report=IngestReport(str(dump)),
        now=stamp,
    )
    backend = get_backend("offline", Settings())
    summarize_papers(db, backend, pending_papers(db, backend))


def subscribe(db, email: str, when: datetime, **options) -> None:
    sub = make_subscriber(email, vocabulary=VOCAB, **options)
    save_subscriber(db, sub, now=when.isoformat())


def emails(db, email: str) -> list[tuple[str, int]]:
    """(digest date, papers) of every email sent to `email`, oldest first (digests
    older than the window are archived: `history` reads both)."""
    sub_id = db.execute("SELECT id FROM subscribers WHERE email = ?", [email]).fetchone()[0]
    return [(day, len(papers)) for day, _, papers in history(db, sub_id)]


@pytest.fixture
def setup(tmp_path: Path):
    db = open_db(tmp_path / "digest.db")
    settings = settings_for(tmp_path / "digest.db", outbox_dir=str(tmp_path / "outbox"))
    yield db, settings
    db.close()


def test_weekly_subscribers_get_one_email_a_week_as_the_clock_advances(setup) -> None:
    db, settings = setup
    subscribe(db, "daily@example.org", at(0, 6))
    subscribe(db, "monday@example.org", at(0, 6), frequency="weekly", weekday="mon")
    subscribe(db, "friday@example.org", at(0, 6), frequency="weekly", weekday="fri")
    arrivals = {0: DUMPS[0], 2: DUMPS[1], 9: DUMPS[2], 17: DUMPS[3]}  # days with new papers
    for day in range(0, 28):  # four weeks, one run a day
        if day in arrivals:
            arrive(db, arrivals[day], at(day, 6))
        send_digests(db, settings, now=at(day))
    mondays = [(at(d).date().isoformat()) for d in (0, 7, 14, 21)]
    # Friday the 20th took the last papers (Thursday's): the week after has nothing new.
    fridays = [(at(d).date().isoformat()) for d in (4, 11, 18)]
    assert [d for d, _ in emails(db, "monday@example.org")] == mondays
    assert [d for d, _ in emails(db, "friday@example.org")] == fridays
    # The daily reader hears on each day with new papers and the days after
    # (25-paper cap), never twice a day.
    daily = [d for d, _ in emails(db, "daily@example.org")]
    assert len(daily) == len(set(daily)) and at(2).date().isoformat() in daily


def test_a_weekly_email_holds_the_best_of_the_week_by_rank_then_recency(setup) -> None:
    db, settings = setup
    arrive(db, DUMPS[0], at(-6))  # Tuesday
    arrive(db, DUMPS[1], at(-3))  # Friday
    subscribe(db, "weekly@example.org", at(-1), frequency="weekly", weekday="mon", max_papers=12)
    report = send_digests(db, settings, now=at(-1))  # Sunday
    assert report.sent == 0 and report.outcomes[0].status == "waiting"
    assert "not today: weekly on Monday: next email on 2026-11-02" in report.outcomes[0].line
    report = send_digests(db, settings, now=at(0))
    assert report.sent == 1
    # Independently: every paper of the week, best rank first, the newer first on a tie.
    rows = db.execute("SELECT id, best_rank, first_seen FROM papers").fetchall()
    best = sorted(rows, key=lambda r: (r[1], -datetime.fromisoformat(r[2]).timestamp(), r[0]))
    sent = [
        r[0]
        for r in db.execute(
            "SELECT paper_id FROM delivery_papers ORDER BY position",
        )
    ]
    assert sent == [r[0] for r in best[:12]]
    ranks = [r[1] for r in best[:12]]
    assert ranks == sorted(ranks) and max(ranks) <= 6  # the top of each listing
    report = send_digests(db, settings, now=at(3))
    assert report.sent == 0 and "next email on 2026-11-09" in report.outcomes[0].line


def test_a_missed_weekday_sends_on_the_next_run_and_not_again_that_week(setup) -> None:
    db, settings = setup
    subscribe(db, "weekly@example.org", at(-7), frequency="weekly", weekday="mon")
    arrive(db, DUMPS[0], at(-1))
    # Monday's run never happened (the machine was off): Tuesday's sends.
    assert send_digests(db, settings, now=at(1)).sent == 1
    arrive(db, DUMPS[1], at(2))
    assert send_digests(db, settings, now=at(2)).sent == 0
    assert send_digests(db, settings, now=at(6)).sent == 0
    assert send_digests(db, settings, now=at(7)).sent == 1
    assert [d for d, _ in emails(db, "weekly@example.org")] == ["2026-11-03", "2026-11-09"]


def test_a_weekly_reader_who_joins_midweek_hears_first_on_their_day(setup) -> None:
    db, settings = setup
    arrive(db, DUMPS[0], at(1))
    subscribe(db, "late@example.org", at(2), frequency="weekly", weekday="mon")
    assert send_digests(db, settings, now=at(2)).sent == 0
    assert send_digests(db, settings, now=at(7)).sent == 1


@pytest.mark.parametrize(
    "day, weekday, last, subscribed, expected",
    [
        (date(2026, 11, 2), "mon", None, None, None),  # due
        (date(2026, 11, 2), "mon", "2026-11-02", None, date(2026, 11, 9)),
        (date(2026, 11, 8), "mon", "2026-11-02", None, date(2026, 11, 9)),  # Sunday
        (date(2026, 11, 9), "mon", "2026-11-02", None, None),
        (date(2026, 11, 4), "mon", "2026-10-26", None, None),  # missed Monday
        (date(2026, 11, 4), "mon", None, "2026-11-04T10:00:00+00:00", date(2026, 11, 9)),
        (date(2026, 11, 2), "mon", None, "2026-11-02T06:00:00+00:00", None),
        (date(2026, 11, 2), "sun", None, None, None),
    ],
)
def test_when_a_weekly_subscriber_is_due(day, weekday, last, subscribed, expected) -> None:
    assert next_weekly(day, weekday, last, subscribed) == expected
    assert week_start(day, weekday).weekday() == ("mon", "sun").index(weekday) * 6


def test_match_any_takes_either_tags_or_keywords_and_all_takes_both(setup) -> None:
    db, settings = setup
    arrive(db, DUMPS[0], at(0))
    rows = db.execute(
        "SELECT p.id, s.tags FROM papers p JOIN summaries s ON s.paper_id = p.id"
    ).fetchall()
    tagged = {r[0] for r in rows if '"diffusion"' in r[1]}
    worded = {r["id"] for r in oracle.papers(settings.db) if oracle.mentions(r, "language model")}
    excluded = {r[0] for r in rows if '"3d"' in r[1]}
    assert tagged and worded and tagged & worded and tagged - worded
    filters = {"tags": ["diffusion"], "keywords": ["language model"], "exclude_tags": ["3d"]}
    for match, expected in (("all", tagged & worded), ("any", tagged | worded)):
        subscribe(db, f"{match}@example.org", at(-1), match=match, max_papers=500, **filters)
        sub = next(s for s in _subs(db) if s.email == f"{match}@example.org")
        chosen = set(select_papers(db, sub, at(0), limits(settings)).paper_ids)
        assert chosen == expected - excluded, match


def _subs(db):
    from digest.store.subscribers import list_subscribers

    return list_subscribers(db)


def test_subscribe_takes_frequency_weekday_and_match_and_status_shows_them(invoke) -> None:
    result = invoke("subscribe", "ada@example.org", "--frequency", "weekly", "--weekday", "Friday")
    assert result.exit_code == 0
    assert result.output == "subscribed ada@example.org (weekly on Friday)\n"
    invoke("subscribe", "bob@example.org", "--tag", "llm", "--keyword", "agent", "--match", "any")
    listed = invoke("subscribers").output
    assert "ada@example.org: weekly on Friday\n" in listed
    assert "bob@example.org: tags: llm; or keywords: agent\n" in listed
    status = invoke("status").output
    assert "ada@example.org: weekly on Friday; never emailed" in status
    as_json = invoke("subscribers", "--json").output
    assert '"frequency": "weekly"' in as_json and '"weekday": "fri"' in as_json


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frequency", "weekly", "--weekday", "someday"], "weekday 'someday'"),
        (["--weekday", "mon"], "a weekday is only for weekly subscribers"),
        (["--frequency", "hourly"], "'hourly' is not one of 'daily', 'weekly'"),
    ],
)
def test_bad_cadence_options_are_one_line_usage_errors(invoke, args, message) -> None:
    result = invoke("subscribe", "ada@example.org", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_config_subscribers_take_frequency_weekday_and_match(tmp_path: Path, invoke) -> None:
    (tmp_path / "digest.toml").write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nfrequency = "weekly"\nweekday = "wed"\n'
        'tags = ["llm"]\nkeywords = ["agent"]\nmatch = "any"\n',
        encoding="utf-8",
    )
    assert invoke("subscribers").output == (
        "ada@example.org: weekly on Wednesday; tags: llm; or keywords: agent\n"
    )
    (tmp_path / "digest.toml").write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nweekday = "wed"\n', encoding="utf-8"
    )
    result = invoke("subscribers")
    assert result.exit_code == 2
    assert "a weekday is only for weekly subscribers" in result.stderr

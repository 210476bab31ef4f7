"""Hugging Face daily papers from a real HTTP server on 127.0.0.1 serving recorded replies."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from payload_server import DATA, failing, garbled, slow, too_many

from digest.config import Settings, SourcesConfig
from digest.sources.hf import parse_items
from digest.sources.http import Retry, make_client
from digest.sources.live import fetch_hf
from digest.store.fetch_state import get_state

DAILY = "/api/daily_papers"
DAY = "2025-09-09"


@pytest.fixture
def sleeps() -> list[float]:
    return []


def settings_for(url: str, **sources) -> Settings:
    options = {"hf_daily": True, "hf_base_url": url, "timeout": 5, **sources}
    return Settings(sources=SourcesConfig(**options))


def fetch(db, server, sleeps, **options):
    retry = options.pop("retry", Retry(sleep=sleeps.append, backoff=0.5))
    settings = options.pop("settings", settings_for(server.url))
    return fetch_hf(db, settings, retry=retry, **options)


def recorded(day: str) -> list[dict]:
    return json.loads((DATA / "hf" / f"{day}.json").read_text(encoding="utf-8"))


def test_a_day_is_stored_with_authors_upvotes_links_and_hf_extras(db, server, sleeps) -> None:
    [report] = fetch(db, server, sleeps, date=DAY)
    assert (report.path, report.entries, report.new, report.error) == (f"hf {DAY}", 16, 16, None)
    [row] = db.query("SELECT * FROM papers WHERE arxiv_id = '2509.06160'")
    assert row["title"] == "Reverse-Engineered Reasoning for Open-Ended Generation"
    assert row["abstract"].startswith("While the ``deep reasoning'' paradigm has spurred")
    assert "\n" not in row["abstract"]
    assert json.loads(row["authors"])[:2] == ["Haozhe Wang", "Haoran Que"]
    assert len(json.loads(row["authors"])) == 12
    assert (row["upvotes"], row["best_rank"], row["num_comments"]) == (62, 1, 1)
    assert row["url"] == "https://huggingface.co/papers/2509.06160"
    assert row["project_page"] == "https://m-a-p.ai/REER_DeepWriter/"
    assert "REER" in json.loads(row["ai_keywords"])
    assert row["thumbnail"].startswith("https://cdn-thumbnails.huggingface.co/")
    assert row["published"] == "2025-09-07T18:07:58+00:00"
    repo = db.execute("SELECT github_repo FROM papers WHERE arxiv_id = '2509.06949'").fetchone()
    assert repo == ("https://github.com/Gen-Verse/dLLM-RL",)
    listed = {r[0] for r in db.execute("SELECT listed FROM sightings")}
    assert listed == {DAY}
    [request] = server.seen(DAILY)
    assert request.query == {"date": DAY, "limit": "100", "p": "0"}
    assert request.headers["user-agent"].startswith("digest/")
    assert "research digest" in request.headers["user-agent"]
    assert get_state(db, "hf", DAY)["status"] == "ok"


def test_rank_follows_upvotes_with_ties_in_listed_order(db, server, sleeps) -> None:
    items = list(reversed(recorded("2024-10-25")))  # the API order is not trusted to be ranked
    server.serve(DAILY, json.dumps(items).encode(), date="2024-10-26")
    fetch(db, server, sleeps, date="2024-10-26")
    rows = db.execute(
        "SELECT s.rank, p.upvotes, p.arxiv_id FROM sightings s JOIN papers p ON p.id = s.paper_id"
        " ORDER BY s.rank"
    ).fetchall()
    assert [r[0] for r in rows] == list(range(1, 26))
    assert rows[0][1:] == (39, "2410.17243")
    upvotes = [r[1] for r in rows]
    assert upvotes == sorted(upvotes, reverse=True)
    # 2410.16251 and 2410.18693 both have 26 upvotes: reversed, 2410.18693 is listed first.
    assert [r[2] for r in rows if r[1] == 26] == ["2410.18693", "2410.16251"]


def test_older_reply_format_parses_with_titles_and_abstracts_on_one_line() -> None:
    warnings: list[str] = []
    entries = parse_items(recorded("2024-05-27"), "2024-05-27", warnings)
    assert len(entries) == 13 and warnings == []
    first = entries[0].paper
    assert first.title == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert first.arxiv_id == "2405.15738" and first.upvotes == 32
    assert all("\n" not in e.paper.title + e.paper.abstract for e in entries)


def test_a_paper_listed_on_two_days_is_one_paper_with_two_sightings(db, server, sleeps) -> None:
    items = recorded(DAY)[:3]
    server.serve(DAILY, json.dumps(items).encode(), date="2025-09-10")
    fetch(db, server, sleeps, since=DAY, today="2025-09-10")
    assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 16
    assert (
        db.execute(
            "SELECT COUNT(*) FROM sightings s JOIN papers p ON p.id = s.paper_id"
            " WHERE p.arxiv_id = '2509.06160'"
        ).fetchone()[0]
        == 2
    )


def test_the_same_reply_twice_changes_nothing(db, server, sleeps) -> None:
    fetch(db, server, sleeps, date=DAY)
    [again] = fetch(db, server, sleeps, date=DAY)
    assert (again.skipped, again.entries, again.new, again.error) == (True, 16, 0, None)
    assert db.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == 16


def test_an_etag_makes_the_next_request_conditional_and_a_304_costs_nothing(
    db, server, sleeps
) -> None:
    server.etags[DAILY] = '"day-v1"'
    fetch(db, server, sleeps, date=DAY)
    assert get_state(db, "hf", DAY)["etag"] == '"day-v1"'
    [again] = fetch(db, server, sleeps, date=DAY)
    assert server.seen(DAILY)[-1].headers["if-none-match"] == '"day-v1"'
    assert (again.skipped, again.entries, again.error) == (True, 16, None)
    assert db.execute("SELECT COUNT(*) FROM sources").fetchone()[0] == 1


def test_last_modified_is_sent_back_when_there_is_no_etag(db, server, sleeps) -> None:
    stamp = "Tue, 09 Sep 2025 10:00:00 GMT"
    server.last_modified[DAILY] = stamp
    fetch(db, server, sleeps, date=DAY)
    [again] = fetch(db, server, sleeps, date=DAY)
    assert server.seen(DAILY)[-1].headers["if-modified-since"] == stamp
    assert again.skipped and again.error is None


def test_429_waits_as_long_as_retry_after_says_then_succeeds(db, server, sleeps) -> None:
    server.inject(DAILY, too_many(retry_after="7"))
    [report] = fetch(db, server, sleeps, date=DAY)
    assert report.error is None and report.new == 16
    assert sleeps == [7.0]
    assert len(server.seen(DAILY)) == 2


def test_retry_after_as_an_http_date_is_understood(db, server, sleeps) -> None:
    server.inject(DAILY, too_many(retry_after="Thu, 01 Jan 1970 00:00:00 GMT"))
    [report] = fetch(db, server, sleeps, date=DAY)
    assert report.error is None and sleeps == [0.0]


def test_5xx_is_retried_with_growing_backoff(db, server, sleeps) -> None:
    server.inject(DAILY, failing(500), failing(502), too_many(retry_after=None))
    [report] = fetch(db, server, sleeps, date=DAY)
    assert report.error is None and report.new == 16
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_source_failing_every_time_is_reported_in_one_line(db, server, sleeps) -> None:
    server.inject(DAILY, *[failing(503)] * 4)
    [report] = fetch(db, server, sleeps, date=DAY)
    assert report.error.startswith(f"hf {DAY}: ")
    assert "HTTP 503" in report.error and "4 times" in report.error
    assert "\n" not in report.error
    assert len(sleeps) == 3
    state = get_state(db, "hf", DAY)
    assert state["status"] == "error" and "HTTP 503" in state["error"]
    assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 0


def test_a_retry_after_longer_than_we_wait_fails_at_once(db, server, sleeps) -> None:
    server.inject(DAILY, too_many(retry_after="3600"))
    [report] = fetch(db, server, sleeps, date=DAY)
    assert "asks us to wait 3600 s" in report.error
    assert sleeps == [] and len(server.seen(DAILY)) == 1


def test_a_slow_server_times_out_with_a_clear_error(db, server, sleeps) -> None:
    server.inject(DAILY, slow(3))
    settings = settings_for(server.url, timeout=0.2)
    [report] = fetch(db, server, sleeps, date=DAY, settings=settings)
    assert report.error.startswith(f"hf {DAY}: no answer from ")
    assert "within 0.2 s" in report.error


def test_a_garbled_reply_is_an_error_naming_the_source(db, server, sleeps) -> None:
    server.inject(DAILY, garbled())
    [report] = fetch(db, server, sleeps, date=DAY)
    assert report.error.startswith(f"hf {DAY}: the reply from ")
    assert "is not JSON" in report.error
    assert get_state(db, "hf", DAY)["status"] == "error"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"error": "Invalid date"}', "is a JSON dict, not the list of papers expected"),
        (b'[{"id": 1}, "x"]', "none of the 2 items looks like a daily paper"),
        (b"<html><body>Maintenance</body></html>", "is not JSON"),
    ],
)
def test_a_reply_that_is_not_a_list_of_papers_is_refused(
    db, server, sleeps, payload: bytes, message: str
) -> None:
    server.serve(DAILY, payload, date=DAY)
    [report] = fetch(db, server, sleeps, date=DAY)
    assert message in report.error and report.error.startswith(f"hf {DAY}: ")


def test_unusable_items_are_skipped_with_a_warning_and_links_must_be_http(
    db, server, sleeps
) -> None:
    good, other = recorded(DAY)[:2]
    good["paper"]["githubRepo"] = "javascript:alert(1)"
    bad = {**other, "paper": {**other["paper"], "id": "../../etc/passwd"}}
    server.serve(DAILY, json.dumps([good, bad]).encode(), date=DAY)
    [report] = fetch(db, server, sleeps, date=DAY)
    assert (report.new, report.error) == (1, None)
    assert report.warnings == [
        f"hf {DAY}: item 2 skipped: paper id '../../etc/passwd' is not an arXiv id"
    ]
    assert db.execute("SELECT github_repo FROM papers").fetchone() == (None,)


def test_a_full_page_fetches_the_next_one(db, server, sleeps) -> None:
    template = recorded(DAY)[0]
    items = [
        {
            **template,
            "title": f"Paper number {n}",
            "paper": {**template["paper"], "id": f"2509.{10000 + n}", "upvotes": n},
        }
        for n in range(105)
    ]
    server.serve(DAILY, json.dumps(items[:100]).encode(), date="2025-09-10", p="0")
    server.serve(DAILY, json.dumps(items[100:]).encode(), date="2025-09-10", p="1")
    [report] = fetch(db, server, sleeps, date="2025-09-10")
    assert report.new == 105
    assert [r.query["p"] for r in server.seen(DAILY)] == ["0", "1"]


def test_the_daily_run_catches_up_on_every_day_since_the_last_success(db, server, sleeps) -> None:
    fetch(db, server, sleeps, today="2025-09-06")  # no history: yesterday and today
    fetch(db, server, sleeps, today="2025-09-09")
    days = [r.query["date"] for r in server.seen(DAILY)]
    assert days == [
        "2025-09-05",
        "2025-09-06",  # first run
        "2025-09-06",
        "2025-09-07",
        "2025-09-08",
        "2025-09-09",
    ]
    assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 16


def test_catching_up_goes_back_at_most_catchup_days(db, server, sleeps) -> None:
    fetch(db, server, sleeps, date="2025-06-01")
    settings = settings_for(server.url, catchup_days=3)
    fetch(db, server, sleeps, today=DAY, settings=settings)
    days = [r.query["date"] for r in server.seen(DAILY)]
    assert days == ["2025-06-01", "2025-09-07", "2025-09-08", DAY]


def test_an_unreachable_source_is_not_asked_again_and_the_next_run_resumes(
    db, server, sleeps
) -> None:
    fetch(db, server, sleeps, date="2025-09-06")
    server.inject(DAILY, *[failing(500)] * 4)
    reports = fetch(db, server, sleeps, today=DAY)
    assert [r.path for r in reports] == ["hf 2025-09-06"]
    assert "(3 later days left for the next run)" in reports[0].error
    reports = fetch(db, server, sleeps, today=DAY)
    assert [r.path for r in reports] == [f"hf 2025-09-0{d}" for d in (6, 7, 8, 9)]
    assert all(r.error is None for r in reports) and reports[-1].new == 16


def test_a_refused_connection_is_reported_not_raised(db, sleeps) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_for(f"http://127.0.0.1:{port}")
    with make_client(1.0, connect_retries=1) as client:
        [report] = fetch_hf(db, settings, date=DAY, client=client, retry=Retry(sleep=sleeps.append))
    assert report.error.startswith(f"hf {DAY}: cannot connect to 127.0.0.1")
    assert sleeps == []


def test_an_oversized_reply_is_refused(db, server, sleeps) -> None:
    from digest.sources import http

    with httpx.Client() as client:
        server.serve(DAILY, b"[" + b" " * 2_000 + b"]", date=DAY)
        with pytest.raises(http.SourceError, match="larger than 0 MB"):
            http.fetch(
                client, server.url + DAILY, source="hf", params={"date": DAY}, max_bytes=1_000
            )


def test_bad_dates_are_one_line_errors(db, server, sleeps) -> None:
    from digest.errors import SourceError

    with pytest.raises(SourceError, match="'9/9/2025' is not a date: use YYYY-MM-DD"):
        fetch(db, server, sleeps, date="9/9/2025")
    with pytest.raises(SourceError, match="after today"):
        fetch(db, server, sleeps, since="2025-09-10", today=DAY)
    assert server.requests == []

"""arXiv (category RSS and API) from a real HTTP server on 127.0.0.1 serving recorded replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from payload_server import PayloadServer, failing, garbled

from digest.config import Settings, SourcesConfig
from digest.sources.arxiv import Pacer
from digest.sources.http import Retry
from digest.sources.live import fetch_arxiv, fetch_enabled_sources
from digest.store.fetch_state import get_state

RSS = "/rss/quant-ph"
API = "/api/query"


class FakeTime:
    """A clock that only moves when slept on: pacing is checked without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def settings_for(server: PayloadServer, categories=("quant-ph",), **sources) -> Settings:
    return Settings(
        sources=SourcesConfig(
            arxiv_categories=list(categories), arxiv_base_url=server.url, timeout=5, **sources
        )
    )


def run(db, server, fake_time, settings=None, **options):
    settings = settings or settings_for(server)
    settings.sources.arxiv_rss_base_url = server.url  # read with getattr until it is a key
    return fetch_arxiv(
        db,
        settings,
        retry=Retry(sleep=fake_time.sleep),
        pacer=Pacer(sleep=fake_time.sleep, clock=fake_time.clock),
        **options,
    )


def stored(db, arxiv_id: str) -> dict:
    rows = list(db.query("SELECT * FROM papers WHERE arxiv_id = ?", [arxiv_id]))
    return rows[0] if rows else {}


def test_the_feed_keeps_new_announcements_only(db, server, fake_time) -> None:
    [report] = run(db, server, fake_time)
    assert (report.path, report.entries, report.new, report.error) == (
        "arxiv quant-ph",
        40,
        40,
        None,
    )
    paper = stored(db, "2504.17837")
    assert paper["title"] == (
        "Statistical noise enhances quantumness benefits in spin-network "
        "quantum reservoir computing"
    )
    assert paper["abstract"].startswith("Quantum reservoir computing offers a promising")
    assert json.loads(paper["authors"]) == ["Youssef Kora", "Christoph Simon"]
    assert paper["url"] == "https://arxiv.org/abs/2504.17837"
    assert paper["published"] == "2025-04-28T04:00:00+00:00"
    assert stored(db, "2504.17845") == {}  # cross-list
    assert stored(db, "2504.16424") == {}  # replacement
    assert server.seen(RSS)[0].headers["user-agent"].startswith("digest/")


def test_cross_lists_are_kept_when_asked_for(db, server, fake_time) -> None:
    [report] = run(db, server, fake_time, settings_for(server, arxiv_cross_lists=True))
    assert report.new == 50
    assert stored(db, "2504.17845")["title"].startswith("Eta-pairing state in flatband lattice")
    assert stored(db, "2504.16424") == {}  # replace-cross is still a replacement


def test_an_unchanged_feed_is_not_downloaded_again(db, server, fake_time) -> None:
    server.etags[RSS] = '"feed-1"'
    run(db, server, fake_time)
    [again] = run(db, server, fake_time)
    assert server.seen(RSS)[-1].headers["if-none-match"] == '"feed-1"'
    assert (again.skipped, again.entries, again.error) == (True, 40, None)
    assert get_state(db, "arxiv", "rss:quant-ph")["etag"] == '"feed-1"'


def test_the_api_fetches_a_date_range_page_by_page_three_seconds_apart(
    db, server, fake_time
) -> None:
    settings = settings_for(server, categories=["cs.SE", "cs.AR"], arxiv_cross_lists=False)
    reports = run(db, server, fake_time, settings, since="2025-09-01", today="2025-09-09")
    assert [r.path for r in reports] == [
        "arxiv cs.SE 2025-09-01..2025-09-09",
        "arxiv cs.AR 2025-09-01..2025-09-09",
    ]
    assert [(r.new, r.known, r.error) for r in reports] == [(9, 0, None), (1, 0, None)]
    requests = server.seen(API)
    assert requests[0].query == {
        "search_query": "cat:cs.SE AND submittedDate:[202509010000 TO 202509092359]",
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": "0",
        "max_results": "200",
    }
    assert [r.query["start"] for r in requests] == ["0", "10", "0", "10"]
    assert fake_time.sleeps == [3.0, 3.0, 3.0]  # between calls, never before the first
    paper = stored(db, "2202.12139")
    assert json.loads(paper["authors"]) == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert paper["published"] == "2022-02-24T15:05:19+00:00"
    assert stored(db, "2104.12255") == {}  # primary cs.CR: a cross-list here


def test_api_cross_lists_are_kept_when_asked_for(db, server, fake_time) -> None:
    settings = settings_for(server, categories=["cs.SE"], arxiv_cross_lists=True)
    [report] = run(db, server, fake_time, settings, date="2021-04-20")
    assert report.new == 11
    assert server.seen(API)[0].query["search_query"].endswith("[202104200000 TO 202104202359]")
    assert stored(db, "2104.12255")["title"] == "0"


def test_pacing_counts_retries_too(db, server, fake_time) -> None:
    server.inject(RSS, failing(503))
    [report] = run(db, server, fake_time)
    assert report.error is None
    # The backoff (2 s) is shorter than arXiv's 3 s: the pacer makes up the difference.
    assert fake_time.sleeps == [2.0, 1.0]


def test_pacer_leaves_the_delay_between_the_starts_of_calls(fake_time) -> None:
    pacer = Pacer(3.0, sleep=fake_time.sleep, clock=fake_time.clock)
    pacer.wait()
    fake_time.now += 1.0  # the call itself took a second
    pacer.wait()
    fake_time.now += 5.0
    pacer.wait()
    assert fake_time.sleeps == [2.0]


def test_an_api_error_entry_is_reported(db, server, fake_time) -> None:
    error = (
        b"<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        b"<entry><id>http://arxiv.org/api/errors#incorrect_id_format</id><title>Error</title>"
        b"<summary>incorrect id format for 1234</summary></entry></feed>"
    )
    server.serve(API, error, content_type="application/atom+xml")
    settings = settings_for(server, categories=["cs.LG"])
    [report] = run(db, server, fake_time, settings, date="2025-09-09")
    assert report.error == (
        "arxiv cs.LG 2025-09-09..2025-09-09: the arXiv API refused the "
        "query: incorrect id format for 1234"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x00\xff garbage", "the reply is not XML"),
        (b"<html><body>Service unavailable</body></html>", "the reply is <html>, not an RSS feed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><rss>&lol;</rss>',
            "declares a DOCTYPE",
        ),
    ],
)
def test_a_reply_that_is_not_a_feed_is_refused(
    db, server, fake_time, body: bytes, message: str
) -> None:
    server.serve(RSS, body, content_type="application/xml")
    [report] = run(db, server, fake_time)
    assert report.error.startswith("arxiv quant-ph: ") and message in report.error
    assert get_state(db, "arxiv", "rss:quant-ph")["status"] == "error"


def test_a_failing_category_leaves_the_others_working(db, server, fake_time) -> None:
    settings = settings_for(server, categories=["cs.XX", "quant-ph"])
    reports = run(db, server, fake_time, settings)
    assert reports[0].error.startswith("arxiv cs.XX: ") and "HTTP 404" in reports[0].error
    assert (reports[1].error, reports[1].new) == (None, 40)


def test_a_bad_category_name_is_a_config_error(db, server, fake_time) -> None:
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="'cs LG' is not an arXiv category"):
        run(db, server, fake_time, settings_for(server, categories=["cs LG"]))
    assert server.requests == []


def test_an_outage_of_one_source_is_reported_and_the_other_still_works(
    db, server, fake_time
) -> None:
    settings = settings_for(server, hf_daily=True, hf_base_url=server.url)
    settings.sources.arxiv_rss_base_url = server.url
    server.inject("/api/daily_papers", *[failing(500)] * 4)
    server.inject(RSS, garbled("application/rss+xml"))
    reports = fetch_enabled_sources(
        db,
        settings,
        today="2025-09-09",
        retry=Retry(sleep=fake_time.sleep),
        pacer=Pacer(sleep=fake_time.sleep, clock=fake_time.clock),
    )
    assert [r.path for r in reports] == ["hf 2025-09-08", "arxiv quant-ph"]
    assert reports[0].error.startswith("hf 2025-09-08: ") and "HTTP 500" in reports[0].error
    assert reports[1].error.startswith("arxiv quant-ph: the reply is not XML")
    # The next run: Hugging Face is back; it resumes from the day that failed.
    reports = fetch_enabled_sources(
        db,
        settings,
        today="2025-09-09",
        retry=Retry(sleep=fake_time.sleep),
        pacer=Pacer(sleep=fake_time.sleep, clock=fake_time.clock),
    )
    assert [(r.path, r.error) for r in reports] == [
        ("hf 2025-09-08", None),
        ("hf 2025-09-09", None),
        ("arxiv quant-ph", None),
    ]
    assert sum(r.new for r in reports) == 16 + 40


def test_a_bad_category_stops_the_daily_run_before_any_source_is_asked(invoke, server) -> None:
    Path("digest.toml").write_text(
        f'[sources]\narxiv_base_url = "{server.url}"\n'
        'arxiv_categories = ["cs.LG", "not a category"]\n',
        encoding="utf-8",
    )
    result = invoke("run")
    assert result.exit_code == 2
    assert "digest.toml:3: [sources] arxiv_categories 'not a category' is not an" in result.stderr
    assert server.requests == [] and not Path("digest.db").exists()

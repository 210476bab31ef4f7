"""The archive: latest digest, each day, tags, papers, search, paging, Atom
feeds checked with feedparser; paper text with markup stays text."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import mail_support
import oracle
from mail_support import settings_for
from web_support import running_web

from digest.store import open_db

library_template, library = mail_support.library_template, mail_support.library

NASTY = '<script>alert("x")</script><img src=x onerror=alert(1)> & Co'


def _poison(db_path: Path) -> int:
    """Give the best paper a title and TL;DR full of markup; returns its id."""
    db = open_db(db_path)
    first = oracle.papers(db_path)[0]
    with db.atomic():
        db.execute("UPDATE papers SET title = ? WHERE id = ?", [NASTY, first["id"]])
        db.execute("UPDATE summaries SET tldr = ? WHERE paper_id = ?", [NASTY, first["id"]])
    return first["id"]


def test_pages_of_the_archive(library: Path) -> None:
    rows = oracle.papers(library)
    day = rows[0]["first_seen"][:10]
    tagged = [r for r in rows if "llm" in r["tags"]]
    with running_web(settings_for(library)) as site, site.client() as client:
        home = client.get("/")
        assert home.status_code == 200
        assert rows[0]["title"].split()[0] in home.text
        assert home.headers["content-type"].startswith("text/html")
        pages = [client.get(f"/digest/{day}/")]
        assert f"{len(rows)} papers first seen this day" in pages[0].text
        pages += [client.get(f"/digest/{day}/page/{n}/") for n in (2, 3)]
        assert [p.text.count('class="paper"') for p in pages] == [25, 25, len(rows) - 50]
        assert f'rel="next" href="/digest/{day}/page/2/"' in pages[0].text
        assert client.get(f"/digest/{day}/page/4/").status_code == 404
        moved = client.get(f"/digest/{day}")
        assert moved.status_code == 307 and moved.headers["location"].endswith(f"/digest/{day}/")
        assert client.get("/digests/").status_code == 200 and f"/digest/{day}/" in home.text
        tag = client.get("/tag/llm/")
        assert tag.status_code == 200
        assert f"{len(tagged)} papers" in tag.text
        if len(tagged) > 25:
            assert 'rel="next" href="/tag/llm/page/2/"' in tag.text
            assert client.get("/tag/llm/page/2/").text.count('class="paper"') == min(
                25, len(tagged) - 25
            )
        paper = client.get(f"/paper/{rows[0]['id']}/")
        assert paper.status_code == 200 and "Abstract" in paper.text and "first seen" in paper.text
        word = rows[0]["title"].split()[0]
        found = client.get("/search", params={"q": word})
        assert found.status_code == 200 and "found" in found.text
        for missing in (
            "/digest/2001-01-01/",
            "/digest/not-a-day/",
            "/digest/2026-02-30/",
            "/tag/no-such-tag/",
            "/tag/llm/page/999/",
            "/paper/999999/",
            "/digests/page/0/",
        ):
            reply = client.get(missing)
            assert reply.status_code == 404, missing
            assert "there is no page here" in reply.text
        weird = client.get("/search", params={"q": 'NEAR( "x" OR * ) ' + "a" * 5000})
        assert weird.status_code == 200


def test_a_search_page_that_does_not_exist_says_so_instead_of_page_one(library: Path) -> None:
    word = oracle.papers(library)[0]["title"].split()[0]
    with running_web(settings_for(library)) as site, site.client() as client:
        first = client.get("/search", params={"q": word})
        assert first.status_code == 200 and 'class="paper"' in first.text
        for page in ("99999", "2", "9" * 50):  # one page of results at most
            gone = client.get("/search", params={"q": word, "page": page})
            assert gone.status_code == 404 and "there is no page here" in gone.text, page
            assert 'class="paper"' not in gone.text
        nothing = client.get("/search", params={"q": "zzzqqqxxx", "page": "2"})
        assert nothing.status_code == 404
        for page in ("-1", "0", "abc", "", "1.5", "²"):
            bad = client.get("/search", params={"q": word, "page": page})
            assert bad.status_code == 400 and "page must be a whole number" in bad.text, page


def test_paper_text_with_markup_is_shown_as_text_everywhere(library: Path) -> None:
    pid = _poison(library)
    with running_web(settings_for(library)) as site, site.client() as client:
        for path in ("/", f"/paper/{pid}/", "/tag/llm/", "/search?q=alert"):
            page = client.get(path).text
            assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert" in client.get(f"/paper/{pid}/").text
        feed = client.get("/feed.atom").text
        assert "<script>" not in feed
        parsed = feedparser.parse(feed)
        titles = [e.title for e in parsed.entries]
        assert parsed.bozo == 0, parsed.bozo_exception
        content = parsed.entries[0].content[0].value
        assert "&lt;script&gt;alert" in content and "<script>" not in content
        assert titles


def test_atom_feeds_are_valid_with_stable_ids(library: Path) -> None:
    rows = oracle.papers(library)
    days = sorted({r["first_seen"][:10] for r in rows}, reverse=True)
    with running_web(settings_for(library)) as site, site.client() as client:
        first = client.get("/feed.atom")
        assert first.headers["content-type"].startswith("application/atom+xml")
        feed = feedparser.parse(first.content)
        assert feed.bozo == 0, feed.bozo_exception
        assert feed.version == "atom10"
        assert [e.id for e in feed.entries] == [f"{site.url}/digest/{d}/" for d in days]
        assert first.content == client.get("/feed.atom").content  # the same bytes again
        tag = feedparser.parse(client.get("/tag/llm/feed.atom").content)
        assert tag.bozo == 0, tag.bozo_exception
        llm = [r for r in rows if "llm" in r["tags"]]
        assert len(tag.entries) == min(50, len(llm))
        assert all(re.fullmatch(rf"{site.url}/paper/\d+/", e.id) for e in tag.entries)
        assert all("llm" in [t.term for t in e.tags] for e in tag.entries)
        assert client.get("/tag/nope/feed.atom").status_code == 404


def test_a_new_day_of_papers_shows_at_once_despite_the_page_cache(library: Path) -> None:
    from mail_support import LATER_DUMP, add_papers

    with running_web(settings_for(library)) as site, site.client() as client:
        before = client.get("/").text
        assert client.get("/").text == before  # served again from the cache
        count = len(oracle.papers(library))
        add_papers(library, LATER_DUMP)
        after = client.get("/").text
        assert after != before
        assert f"{len(oracle.papers(library))} papers first seen" in after
        assert len(oracle.papers(library)) > count


def test_the_home_page_and_the_feed_hold_one_page_of_a_big_day(library: Path) -> None:
    rows = oracle.papers(library)
    day = rows[0]["first_seen"][:10]
    on_day = sum(r["first_seen"][:10] == day for r in rows)
    assert on_day > 25  # a day bigger than a page
    with running_web(settings_for(library)) as site, site.client() as client:
        home = client.get("/")
        assert home.text.count('class="paper"') == 25
        assert f'rel="next" href="/digest/{day}/page/2/"' in home.text
        feed = feedparser.parse(client.get("/feed.atom").content)
    entry = next(e for e in feed.entries if e.id == f"{site.url}/digest/{day}/")
    content = entry.content[0].value
    assert content.count("<h3>") == 25
    assert f"{on_day - 25} more papers of this day" in content

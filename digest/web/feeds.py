"""Atom feeds (feedgen): one entry per digest day, and one per paper for each tag.

Entry ids are the permanent page addresses, so a feed reader never sees an
entry twice; `updated` is when the paper was first seen or last summarised,
so a feed fetched twice is the same bytes. Paper text reaches the feed as
escaped HTML content, never as markup.
"""

from __future__ import annotations

from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from sqlite_utils import Database

from digest.config import Settings
from digest.render import render
from digest.render.view import PaperView
from digest.store import archive
from digest.web.archive import views

DAYS = 20  # digest days in the feed of all digests
PAPERS = 50  # papers in a tag's feed
PER_ENTRY = 25  # papers shown in a day's entry (the rest: a link to the day's page)


def all_digests(db: Database, settings: Settings, base: str) -> bytes:
    """The feed of the latest digest days at absolute URL `base`."""
    title = settings.digest.title
    feed = _feed(f"{base}/feed.atom", f"{base}/", title, f"{title}: every daily digest")
    newest = None
    for day, count in reversed(archive.digest_days(db, DAYS)):  # feedgen prepends entries
        papers = views(archive.day_papers(db, day, PER_ENTRY)[0], settings, base)
        when = max(_when(p) for p in papers)
        newest = max(newest or when, when)
        html = render(
            "web_feed_entry.html.j2",
            settings.digest.templates_dir,
            papers=papers,
            base=base,
            more=count - len(papers),
            day_url=f"{base}/digest/{day}/",
        )
        entry = feed.add_entry()
        entry.id(f"{base}/digest/{day}/")
        entry.title(f"{title} — {day} ({count} paper{'' if count == 1 else 's'})")
        entry.link(href=f"{base}/digest/{day}/", rel="alternate")
        entry.updated(when)
        entry.content(html, type="html")
    feed.updated(newest or datetime(2000, 1, 1, tzinfo=UTC))
    return feed.atom_str(pretty=True)


def tag_feed(db: Database, settings: Settings, base: str, tag: str) -> bytes:
    """The feed of the newest papers with `tag`."""
    papers = views(archive.tag_papers(db, tag, PAPERS)[0], settings, base)
    title = f"{settings.digest.title}: {tag}"
    feed = _feed(f"{base}/tag/{tag}/feed.atom", f"{base}/tag/{tag}/", title, settings.tags[tag])
    newest = None
    for view in reversed(papers):
        when = _when(view)
        newest = max(newest or when, when)
        entry = feed.add_entry()
        entry.id(f"{view.page}/")
        entry.title(view.title)
        entry.link(href=f"{view.page}/", rel="alternate")
        entry.updated(when)
        entry.published(_date(view.first_seen))
        for name in view.tags:
            entry.category(term=name)
        html = render(
            "web_feed_entry.html.j2",
            settings.digest.templates_dir,
            papers=[view],
            base=base,
            more=0,
            day_url="",
        )
        entry.content(html, type="html")
        if view.tldr:
            entry.summary(view.tldr)
    feed.updated(newest or datetime(2000, 1, 1, tzinfo=UTC))
    return feed.atom_str(pretty=True)


def _feed(self_url: str, home: str, title: str, subtitle: str) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(self_url)
    feed.title(title)
    feed.subtitle(subtitle or title)
    feed.link(href=home, rel="alternate")
    feed.link(href=self_url, rel="self")
    feed.language("en")
    feed.generator("digest")
    return feed


def _when(p: PaperView) -> datetime:
    return max(_date(p.first_seen), _date(p.summarised or p.first_seen))


def _date(value: str) -> datetime:
    when = datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)

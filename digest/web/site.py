"""`digest site`: the archive and feeds as static files, for GitHub Pages or any
static host. The same pages as the live application (digest.web.archive),
rendered with `live` off: no sign-up, manage or search forms.

Every page is a folder with an index.html, so its address is the one the live
application uses (`/digest/2026-11-21/`, `/tag/llm/page/2/`, `/paper/17/`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from digest.config import Settings
from digest.config.fields import check_url
from digest.errors import ConfigError
from digest.files import write_atomic
from digest.render import environment, render
from digest.store import archive as store
from digest.web import archive, feeds


def write_site(db: Database, settings: Settings, folder: Path, base_url: str | None) -> int:
    """Write the site into `folder` for readers at `base_url`; returns the files written."""
    base = (base_url or settings.web.public_url or "").rstrip("/")
    if not base:
        raise ConfigError(
            "give --base-url (the address the site will have, e.g."
            " https://you.github.io/papers) or set [web] public_url"
        )
    check_url(base, "--base-url")
    root = urlsplit(base).path.rstrip("/")
    writer = _Writer(folder, settings, root)
    writer.page("", *archive.day_page(db, settings, root, None))
    days = store.count_days(db)
    for n in range(1, max(1, -(-days // archive.DAYS_PER_PAGE)) + 1):
        writer.page("digests" if n == 1 else f"digests/page/{n}", *archive.days_page(db, n))
    for day, _ in store.digest_days(db, max(days, 1)):
        first = archive.day_page(db, settings, root, day)
        for n in range(1, first[1]["pages"] + 1):
            page = first if n == 1 else archive.day_page(db, settings, root, day, n)
            writer.page(f"digest/{day}" if n == 1 else f"digest/{day}/page/{n}", *page)
    for tag in settings.tags:
        first = archive.tag_page(db, settings, root, tag, 1)
        for n in range(1, first[1]["pages"] + 1):
            page = first if n == 1 else archive.tag_page(db, settings, root, tag, n)
            writer.page(f"tag/{tag}" if n == 1 else f"tag/{tag}/page/{n}", *page)
        writer.file(f"tag/{tag}/feed.atom", feeds.tag_feed(db, settings, base, tag))
    ids = [r[0] for r in db.execute("SELECT DISTINCT paper_id FROM summaries ORDER BY paper_id")]
    for paper_id in ids:
        writer.page(f"paper/{paper_id}", *archive.paper_page(db, settings, root, paper_id))
    writer.file("feed.atom", feeds.all_digests(db, settings, base))
    env = environment(settings.digest.templates_dir)
    css, _, _ = env.loader.get_source(env, "web.css")  # type: ignore[union-attr]
    writer.file("static/web.css", css.encode())
    error = writer.render("error", status=404, message="there is no page here", hint="")
    writer.file("404.html", error.encode())
    return writer.count


class _Writer:
    def __init__(self, folder: Path, settings: Settings, root: str) -> None:
        self.folder, self.settings, self.root = folder, settings, root
        self.count = 0

    def render(self, name: str, **context: Any) -> str:
        return render(
            f"web_{name}.html.j2",
            self.settings.digest.templates_dir,
            root=self.root,
            site_title=self.settings.digest.title,
            live=False,
            **context,
        )

    def page(self, path: str, name: str, context: dict[str, Any]) -> None:
        target = f"{path}/index.html" if path else "index.html"
        self.file(target, self.render(name, **context).encode())

    def file(self, path: str, data: bytes) -> None:
        """Write atomically: a reader of the folder never sees half a page."""
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        self.count += 1

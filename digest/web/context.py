"""What every handler needs: settings, the signing key, a database connection
per worker thread, the clock, the mail transport, and template rendering."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database
from starlette.responses import HTMLResponse, Response

from digest.config import Settings
from digest.mail.transport import Transport, make_transport
from digest.render import render
from digest.store import BUSY_TIMEOUT_S, open_db
from digest.store.archive import version


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Web:
    settings: Settings
    secret: str
    clock: Callable[[], datetime] = _now
    transport: Callable[[], Transport] | None = None  # default: [email] backend
    _local: threading.local = field(default_factory=threading.local)
    _cache: OrderedDict = field(default_factory=OrderedDict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    cache_size: int = 512
    cache_ttl: float = 60.0
    busy_timeout: float = BUSY_TIMEOUT_S  # how long a write waits for a run's write lock

    @property
    def root(self) -> str:
        """The path prefix of every link (public_url's path, e.g. "" or "/papers")."""
        return urlsplit(self.settings.web.public_url or "").path.rstrip("/")

    @property
    def secure(self) -> bool:
        return (self.settings.web.public_url or "").startswith("https://")

    def db(self) -> Database:
        """This worker thread's connection (SQLite connections stay in their thread)."""
        conn = getattr(self._local, "db", None)
        if conn is None:
            conn = self._local.db = open_db(self.settings.db, busy_timeout=self.busy_timeout)
        return conn

    def cached(self, key: str, build: Callable[[], Response]) -> Response:
        """An archive page or feed from the cache while the archive is unchanged
        (`store.archive.version`) and for at most `cache_ttl` seconds (edits the
        version does not see, such as links found for a paper, show up then),
        else built and kept (200 answers only; the least recently used are
        dropped past `cache_size`)."""
        now = (version(self.db()), int(time.monotonic() // self.cache_ttl))
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == now:
                self._cache.move_to_end(key)
                return Response(hit[1], media_type=hit[2])
        response = build()
        if response.status_code == 200:
            with self._cache_lock:
                self._cache[key] = (now, response.body, response.media_type)
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return response

    def mailer(self) -> Transport:
        return self.transport() if self.transport else make_transport(self.settings)

    def page(self, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        """Render `web_<name>.html.j2` (autoescaped) inside the shared layout."""
        html = render(
            f"web_{name}.html.j2",
            self.settings.digest.templates_dir,
            root=self.root,
            site_title=self.settings.digest.title,
            live=True,
            **context,
        )
        return HTMLResponse(html, status_code=http_status)

    def error(self, status: int, message: str, hint: str = "") -> HTMLResponse:
        return self.page("error", status, status=status, message=message, hint=hint)

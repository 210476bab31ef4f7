"""A real HTTP server on 127.0.0.1 serving the recorded payloads in tests/data/.

It answers like the real services do, for the paths our clients use:

* `/api/daily_papers?date=D` -> tests/data/hf/D.json (`[]` for other days, and for
  pages `p` > 0);
* `/api/query?...` (arXiv API) -> api_query_testing_10.xml for `start=0`,
  api_id_2104.12255v1.xml for `start=10`, an empty feed beyond;
* `/rss/<category>` -> tests/data/arxiv/rss_<category>_*.xml, 404 for others.

Tests make it misbehave on demand: `inject(path, reply, ...)` queues one-shot
replies (429 with Retry-After, 500, slow, garbled) answered before the
recorded one; `etags[path]` / `last_modified[path]` make it honour
conditional requests (304); `serve(path, body, **query)` adds a payload.
Every request is kept in `requests` (path, query, headers) for assertions.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATA = Path(__file__).resolve().parent / "data"
JSON = "application/json; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"


@dataclass
class Reply:
    """One answer. `body=None` means "the recorded payload" (used for slow replies)."""

    status: int = 200
    body: bytes | None = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (cut short when the server stops)


def too_many(retry_after: str | None = "1") -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(429, b'{"error": "rate limited"}', {"Content-Type": JSON, **headers})


def failing(status: int = 500) -> Reply:
    return Reply(status, b"<html><body>Internal error</body></html>", {"Content-Type": "text/html"})


def slow(seconds: float) -> Reply:
    return Reply(body=None, delay=seconds)


def garbled(content_type: str = JSON) -> Reply:
    return Reply(200, b'\x1f\x8b\x08garbage<<>>\xff\xfe{"paper":', {"Content-Type": content_type})


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class PayloadServer:
    """Use as a context manager; `url` is its base URL (http://127.0.0.1:<port>)."""

    def __init__(self, data: Path = DATA) -> None:
        self.data = data
        self.requests: list[Seen] = []
        self.etags: dict[str, str] = {}
        self.last_modified: dict[str, str] = {}
        self._faults: dict[str, deque[Reply]] = {}
        self._extra: list[tuple[str, dict[str, str], Reply]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> PayloadServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def inject(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with these replies, in order."""
        with self._lock:
            self._faults.setdefault(path, deque()).extend(replies)

    def serve(self, path: str, body: bytes, content_type: str = JSON, **query: str) -> None:
        """Serve `body` at `path` when the request's query has these values."""
        self._extra.append((path, query, Reply(200, body, {"Content-Type": content_type})))

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # -- answering ---------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        self.requests.append(Seen(path, query, headers))
        with self._lock:
            queue = self._faults.get(path)
            fault = queue.popleft() if queue else None
        if fault is not None and fault.body is not None:
            return fault
        reply = self._recorded(path, query)
        if reply.status == 200:
            reply = self._conditional(path, reply, headers)
        if fault is not None:
            reply = replace(reply, delay=fault.delay)
        return reply

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _conditional(self, path: str, reply: Reply, headers: dict[str, str]) -> Reply:
        etag, modified = self.etags.get(path), self.last_modified.get(path)
        validators = {
            **({"ETag": etag} if etag else {}),
            **({"Last-Modified": modified} if modified else {}),
        }
        if (etag and headers.get("if-none-match") == etag) or (
            modified and not etag and headers.get("if-modified-since") == modified
        ):
            return Reply(304, b"", validators)
        return replace(reply, headers={**reply.headers, **validators})

    def _recorded(self, path: str, query: dict[str, str]) -> Reply:
        for extra_path, wanted, reply in self._extra:
            if extra_path == path and all(query.get(k) == v for k, v in wanted.items()):
                return replace(reply, headers=dict(reply.headers))
        if path == "/api/daily_papers":
            day = query.get("date", "")
            file = self.data / "hf" / f"{day}.json"
            recorded = re.fullmatch(r"\d{4}-\d\d-\d\d", day) and file.is_file()
            first_page = query.get("p", "0") == "0"
            body = file.read_bytes() if recorded and first_page else b"[]"
            return Reply(200, body, {"Content-Type": JSON})
        if path == "/api/query":
            start = query.get("start", "0")
            name = {"0": "api_query_testing_10.xml", "10": "api_id_2104.12255v1.xml"}.get(start)
            body = (self.data / "arxiv" / name).read_bytes() if name else _empty_feed()
            return Reply(200, body, {"Content-Type": ATOM})
        if path.startswith("/rss/"):
            files = sorted((self.data / "arxiv").glob(f"rss_{path[5:]}_*.xml"))
            if files:
                return Reply(200, files[0].read_bytes(), {"Content-Type": RSS})
        return Reply(404, b"<html><body>Not found</body></html>", {"Content-Type": "text/html"})


def _empty_feed() -> bytes:
    return (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<feed xmlns="http://www.w3.org/2005/Atom" '
        b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        b"<title>arXiv Query</title><opensearch:totalResults>11</opensearch:totalResults>"
        b"</feed>"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: PayloadServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.server.owner
        reply = owner.answer(parts.path, query, headers)
        if reply.delay:
            owner.wait(reply.delay)
        body = reply.body or b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Tests read `requests`, not a log."""

"""One careful GET, shared by every live source.

Every source needs the same courtesy and the same failure handling, so it
lives here once: timeouts, a User-Agent that says who is asking, bounded
retries of what is transient (429, 5xx, connection failures) honouring
Retry-After, conditional requests so an unchanged page costs the server
nothing, a cap on the size of a reply, and every failure turned into one
`SourceError` line naming the source, never a traceback.

httpx retries failed *connections* itself (`HTTPTransport(retries=...)`);
it has no retry of HTTP statuses, so `fetch` has a small bounded loop for
429/5xx whose sleep is injectable (tests never wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from digest import __version__
from digest.backoff import backoff
from digest.errors import SourceError

MAX_BYTES = 20_000_000  # the largest reply read; real ones are under 5 MB


class SourceUnavailable(SourceError):
    """The source could not be reached or kept failing (timeouts, 429, 5xx).

    Callers stop asking this source for the rest of the run: more requests
    would only add load to a server that is already struggling.
    """


@dataclass(frozen=True)
class Retry:
    """How 429 and 5xx replies are retried.

    `attempts` counts every try, the first included. Without Retry-After the
    wait is `backoff`, doubled each time (digest.backoff, the one rule). A
    server asking for more than `max_wait` seconds gets no further request
    this run.
    """

    attempts: int = 4
    backoff: float = 2.0
    max_wait: float = 120.0
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Fetched:
    """A reply worth reading: 200 with its body, or 304 (not modified)."""

    url: str
    status: int
    content: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def user_agent(contact: str | None = None) -> str:
    """Say who is asking, as arXiv and Hugging Face ask API clients to."""
    who = f"research digest; +{contact}" if contact else "research digest"
    return f"digest/{__version__} ({who}) python-httpx/{httpx.__version__}"


def make_client(
    timeout: float, *, contact: str | None = None, connect_retries: int = 2
) -> httpx.Client:
    """An httpx client for the live sources; callers close it (or use `with`)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent(contact)},
        transport=httpx.HTTPTransport(retries=connect_retries),
        follow_redirects=True,
    )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    source: str,
    params: Mapping[str, str | int] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str | None = None,
    retry: Retry | None = None,
    before: Callable[[], None] | None = None,
    max_bytes: int = MAX_BYTES,
) -> Fetched:
    """GET `url`; return a 200 or 304 reply, or raise `SourceError` naming `source`.

    `etag`/`last_modified` (from the previous fetch) make the request
    conditional. `before` runs before every attempt (arXiv's pacing).
    """
    retry = retry or Retry()
    headers = {"Accept": accept} if accept else {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    shown = str(httpx.URL(url, params=params))
    for attempt in range(1, retry.attempts + 1):
        if before is not None:
            before()
        status, reply_headers, content = _get(
            client, url, params, headers, max_bytes, source, shown
        )
        if status == 429 or 500 <= status <= 599:
            wait = _wait(reply_headers.get("Retry-After"), attempt, retry)
            what = "rate-limited us (HTTP 429)" if status == 429 else f"failed (HTTP {status})"
            if wait > retry.max_wait:
                raise SourceUnavailable(
                    f"{source}: {shown} {what} and asks us to wait {wait:.0f} s; try again later"
                )
            if attempt == retry.attempts:
                raise SourceUnavailable(
                    f"{source}: {shown} {what} {attempt} times in a row; try again later"
                )
            retry.sleep(wait)
            continue
        if status == 304:
            return Fetched(
                shown,
                304,
                b"",
                reply_headers.get("ETag") or etag,
                reply_headers.get("Last-Modified") or last_modified,
            )
        if status != 200:
            raise SourceError(
                f"{source}: {shown} answered HTTP {status}, not the expected 200; "
                "check the source's base URL and date"
            )
        return Fetched(
            shown, 200, content, reply_headers.get("ETag"), reply_headers.get("Last-Modified")
        )
    raise SourceUnavailable(f"{source}: {shown}: no attempts allowed (Retry.attempts < 1)")


def _get(
    client: httpx.Client,
    url: str,
    params: Mapping[str, str | int] | None,
    headers: dict[str, str],
    max_bytes: int,
    source: str,
    shown: str,
) -> tuple[int, httpx.Headers, bytes]:
    """One request; the body is read (bounded) only for a 200."""
    try:
        with client.stream("GET", url, params=params, headers=headers) as reply:
            if reply.status_code != 200:
                return reply.status_code, reply.headers, b""
            chunks, size = [], 0
            for chunk in reply.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(
                        f"{source}: the reply from {shown} is larger than "
                        f"{max_bytes // 1_000_000} MB: not what this source sends"
                    )
                chunks.append(chunk)
            return 200, reply.headers, b"".join(chunks)
    except httpx.TimeoutException as exc:
        limit = client.timeout.read or client.timeout.connect
        raise SourceUnavailable(
            f"{source}: no answer from {shown} within {limit:g} s ({type(exc).__name__}); "
            "try again later or raise [sources] timeout"
        ) from exc
    except httpx.ConnectError as exc:
        raise SourceUnavailable(
            f"{source}: cannot connect to {httpx.URL(url).host} ({exc}); "
            "check the network and the source's base URL"
        ) from exc
    except httpx.HTTPError as exc:  # protocol errors, bad encodings, too many redirects
        raise SourceUnavailable(
            f"{source}: the reply from {shown} is broken ({type(exc).__name__}: {exc})"
        ) from exc


def _wait(retry_after: str | None, attempt: int, retry: Retry) -> float:
    """Seconds to wait before the next attempt: Retry-After if given, else backoff."""
    if retry_after:
        value = retry_after.strip()
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return backoff(attempt, retry.backoff)

"""The readers' web application on a real uvicorn server on 127.0.0.1, for tests.

    with running_web(settings) as site:   # settings.web.public_url is set to it
        httpx.get(site.url + "/")

The server runs in a thread of the test process (a real socket, real HTTP);
the signing key comes from the env mapping handed to create_app, never from
the machine's environment.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
from starlette.applications import Starlette

from digest.config import Settings
from digest.mail.transport import Transport
from digest.web import create_app
from digest.web.server import Background

SECRET = "test-signing-key-0123456789abcdef"
ENV = {"DIGEST_WEB_SECRET": SECRET}


@dataclass
class Site:
    url: str
    settings: Settings

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def running_web(
    settings: Settings,
    *,
    transport: Callable[[], Transport] | None = None,
    path: str = "",
    busy_timeout: float | None = None,
) -> Iterator[Site]:
    # The server binds port 0 (the kernel picks a free one) before the app exists:
    # the app's links need the port, and a port picked first and bound later races.
    apps: list[Starlette] = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        await apps[0](scope, receive, send)

    server = Background(app, "127.0.0.1", 0)  # type: ignore[arg-type]
    port = server.socket.getsockname()[1]
    settings.web.public_url = f"http://127.0.0.1:{port}{path}"
    try:
        apps.append(create_app(settings, env=ENV, transport=transport))
    except BaseException:
        server.socket.close()
        raise
    if busy_timeout is not None:
        apps[0].state.web.busy_timeout = busy_timeout
    server.start()
    deadline = time.monotonic() + 10
    while not server.server.started:
        if time.monotonic() > deadline or not server.thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield Site(f"http://127.0.0.1:{port}", settings)
    finally:
        server.stop()


def csrf_of(page: str) -> str:
    """The hidden CSRF field of a rendered form."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    if not found:
        raise AssertionError("no CSRF field in the page")
    return found.group(1)


def link_in(msg: EmailMessage, path: str) -> str:
    """The first link to `path` (e.g. "/confirm/") in a message's text part."""
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"(https?://\S+" + re.escape(path) + r"\S+)", text)
    if not found:
        raise AssertionError(f"no {path} link in the message")
    return found.group(1)

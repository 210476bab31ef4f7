"""Serving the application with uvicorn: in the foreground (`digest web`) or
in a thread beside the scheduler (`digest serve --web`)."""

from __future__ import annotations

import logging
import threading

import uvicorn
from starlette.applications import Starlette

log = logging.getLogger("digest.web")


def make_server(app: Starlette, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for `app`. Forwarded headers are trusted from the local
    reverse proxy only (uvicorn's default: 127.0.0.1), so rate limits see the
    reader's address rather than the proxy's."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        server_header=False,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=5,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve_forever(app: Starlette, host: str, port: int) -> None:
    """Serve until SIGTERM/Ctrl-C (uvicorn's own signal handling)."""
    server = make_server(app, host, port)
    log.info("readers' web on http://%s:%d", host, port)
    server.run()
    if not server.started:
        raise OSError(f"could not listen on {host}:{port} (is the port in use?)")


class Background:
    """The web server in a thread; `stop()` lets requests in hand finish."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.address = (host, port)
        self.server = make_server(app, host, port)
        self.thread = threading.Thread(target=self.server.run, name="digest-web", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

"""Serving the application with uvicorn: in the foreground (`digest web`) or
in a thread beside the scheduler (`digest serve --web`).

The listening socket is bound here, before anything is announced, and handed
to uvicorn: a port in use or a host that is not this machine's is one clear
line and exit 2, instead of uvicorn's own log line after "serving" was said
(or, beside the scheduler, a process that carries on without its web).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading

import uvicorn
from starlette.applications import Starlette

from digest.errors import ConfigError

log = logging.getLogger("digest.web")


def listen(host: str, port: int, hint: str = "set [web] port or --port") -> socket.socket:
    """A socket bound to host:port and listening, or a ConfigError naming the fix.

    `hint` is how this command changes the address (`serve --web` has no --port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        why = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"the web port {where} is in use: {why}; {hint}") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ConfigError(f"cannot listen on {where}: {why}; {hint}") from None
        host_hint = hint.replace("port", "host")
        raise ConfigError(
            f"cannot listen on {where}: {why} (not an address of this machine); {host_hint}"
        ) from None
    return sock


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


def serve_forever(
    app: Starlette, host: str, port: int, hint: str = "set [web] port or --port"
) -> None:
    """Serve until SIGTERM/Ctrl-C (uvicorn's own signal handling)."""
    sock = listen(host, port, hint)
    server = make_server(app, host, port)
    log.info("readers' web on http://%s:%d", host, port)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        raise OSError(f"could not serve on {host}:{port}")


class Background:
    """The web server in a thread; `stop()` lets requests in hand finish.

    The socket is bound when this is made, so a busy port fails before the
    scheduler starts."""

    def __init__(
        self, app: Starlette, host: str, port: int, hint: str = "set [web] port or --port"
    ) -> None:
        self.address = (host, port)
        self.socket = listen(host, port, hint)
        self.server = make_server(app, host, port)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name="digest-web",
            daemon=True,
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()

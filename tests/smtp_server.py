"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd), with fault injection.

    with smtp_server() as server:                      # plain SMTP
    with smtp_server(auth={"digest": "s3cret"}) as s:  # AUTH (allowed without TLS)
    with smtp_server(tls=cert) as s:                   # STARTTLS offered
    with smtp_server(tls=cert, implicit_tls=True):     # TLS from the first byte (port-465 style)

Faults, set on `server.faults` before or between sends:
    temporary_data = 1     answer the next DATA with 451 (message not kept)
    drop_data = 1          drop the connection at the next DATA (message not kept)
    drop_after_accept = 1  keep the next message, then drop the connection instead of
                           replying 250 (the client cannot know it was accepted)
    reject = {"x@y": "550 5.1.1 no such user"}   refuse a recipient at RCPT
    per_connection = 3     after 3 messages on one connection, answer MAIL FROM with 421
                           (a relay's limit of messages per connection)
    delay = 0.05           take 50 ms over each DATA (a relay's latency; connections overlap)

The certificate is made by the `openssl` command line (or `trustme` if it is
installed); `make_certificate` skips the test when neither is available.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = shutil.which("openssl")
    if openssl:
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return Certificate(cert, key)
    trustme = pytest.importorskip("trustme", reason="needs the openssl command or trustme")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.private_key_and_cert_chain_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(cert))
    return Certificate(cert, key)


@contextlib.contextmanager
def refusing_port() -> Iterator[socket.socket]:
    """A port on 127.0.0.1 that refuses connections and stays ours for the block.

    The socket is bound (the kernel picks the port) but not listening: a
    connection is refused, and no other program can take the port meanwhile.
    Hand it to `smtp_server(sock=...)` to bring a server up on the same port.
    Picking a free port and binding it later races with every other process.
    """
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock
    finally:
        sock.close()


class BoundController(Controller):
    """aiosmtpd's Controller serving on a socket bound before it starts.

    aiosmtpd binds host:port itself, so a port must be chosen before it is
    bound; here the kernel picks it (port 0) or the caller's socket is used,
    and `port` is read back from the socket: nothing can take it in between.
    """

    def __init__(self, handler: object, *, sock: socket.socket | None = None, **options) -> None:  # noqa: ANN003
        if sock is None:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
        self.sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **options)

    def _create_server(self):  # noqa: ANN202
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


@dataclass
class Faults:
    temporary_data: int = 0
    drop_data: int = 0
    drop_after_accept: int = 0
    reject: dict[str, str] = field(default_factory=dict)
    per_connection: int = 0
    delay: float = 0.0


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class Handler:
    """Keeps every accepted message; applies the faults."""

    def __init__(self) -> None:
        self.faults = Faults()
        self.received: list[Received] = []
        self.attempts = 0  # DATA commands seen
        self.mails = 0  # MAIL FROM commands accepted
        self._lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001
        limit = self.faults.per_connection
        count = getattr(session, "digest_messages", 0)
        if limit and count >= limit:
            return "421 4.7.0 too many messages on this connection, reconnect"
        session.digest_messages = count + 1
        self.mails += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        refusal = self.faults.reject.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        with self._lock:
            self.attempts += 1
            if self.faults.temporary_data:
                self.faults.temporary_data -= 1
                return "451 4.3.0 Temporary failure, try again later"
            if self.faults.drop_data:
                self.faults.drop_data -= 1
                server.transport.abort()
                return "451 dropped"
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
            if self.faults.drop_after_accept:
                self.faults.drop_after_accept -= 1
                server.transport.abort()
                return "250 lost reply"
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self, controller: Controller, handler: Handler) -> None:
        self.controller, self.handler = controller, handler
        self.host, self.port = "127.0.0.1", controller.port

    @property
    def faults(self) -> Faults:
        return self.handler.faults

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]


@contextlib.contextmanager
def smtp_server(
    *,
    auth: dict[str, str] | None = None,
    tls: Certificate | None = None,
    implicit_tls: bool = False,
    require_starttls: bool = False,
    sock: socket.socket | None = None,
) -> Iterator[SMTPServer]:
    """Run a server on 127.0.0.1 for the duration of the block: on a port the
    kernel picks, or on `sock` (from `refusing_port()`) to bring a port up."""
    handler = Handler()
    options: dict = {"sock": sock, "ready_timeout": 10}
    if auth is not None:

        def authenticator(server, session, envelope, mechanism, data):  # noqa: ANN001
            ok = (
                isinstance(data, LoginPassword)
                and auth.get(data.login.decode()) == data.password.decode()
            )
            return AuthResult(success=ok, handled=False)  # False: aiosmtpd replies 535

        # aiosmtpd only counts STARTTLS as TLS for AUTH; implicit TLS is TLS too.
        options.update(
            authenticator=authenticator,
            auth_required=False,
            auth_require_tls=tls is not None and not implicit_tls,
        )
    if tls is not None and implicit_tls:
        options["ssl_context"] = tls.server_context()
    elif tls is not None:
        options.update(tls_context=tls.server_context(), require_starttls=require_starttls)
    controller = BoundController(handler, **options)
    # The server's own complaints (a TLS hello on a plain port, a dropped client)
    # must not land in the stderr of the CLI command under test.
    quiet = [logging.getLogger(name) for name in ("mail.log", "asyncio")]
    before = [logger.propagate for logger in quiet]
    sink = logging.NullHandler()  # else logging's last-resort handler prints to stderr
    for logger in quiet:
        logger.propagate = False
        logger.addHandler(sink)
    controller.start()
    try:
        yield SMTPServer(controller, handler)
    finally:
        controller.stop()
        for logger, propagate in zip(quiet, before, strict=True):
            logger.propagate = propagate
            logger.removeHandler(sink)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (for timeouts)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()

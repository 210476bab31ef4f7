"""Transports: hand one built message to an SMTP server, or to the outbox folder.

A message counts as accepted only when `send` returns. Failures come back as
`SendFailure`, classified so the caller knows what to do next:

* temporary (4xx, dropped connection, timeout, connection refused): retry
  with backoff, then leave the digest pending for the next run;
* permanent for this message (5xx to RCPT or DATA): record it as failed for
  this subscriber; the others still get theirs;
* `server` set: the server or our setup is failing (login, TLS, refused
  sender, unreachable host), so the next subscribers would fail the same way.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from digest.config import Settings
from digest.config.fields import require_smtp_password
from digest.errors import MailError
from digest.mail.mime import Wire
from digest.mail.outbox import FileTransport as FileTransport
from digest.mail.smtp_errors import SendFailure, explain
from digest.secrets import register

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class Transport(Protocol):
    name: str

    def send(self, msg: EmailMessage | Wire, sender: str, recipient: str) -> str:
        """Deliver or raise SendFailure; returns where it went, for the report."""
        ...

    def close(self) -> None: ...


class SMTPTransport:
    """One SMTP connection reused for every message of a run, reopened when lost."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.security, self.timeout = host, security, timeout
        self.port = port or DEFAULT_PORTS[security]
        self.username, self.password = username, password
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> SMTPTransport:
        """Configured from [email]; the password comes from the variable it names."""
        cfg = settings.email
        env = os.environ if env is None else env
        password = env.get(cfg.password_env) if cfg.username else None
        register(password, username=cfg.username)
        require_smtp_password(cfg.username, cfg.password_env, env)
        return cls(
            cfg.smtp_host or "localhost",  # [email] backend = "smtp" is checked to have one
            cfg.smtp_port,
            security=cfg.security,
            username=cfg.username,
            password=password,
            timeout=cfg.timeout,
            ssl_context=ssl_context,
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self, progress: Callable[[str], None] | None = None) -> smtplib.SMTP:
        """Open, secure and log in; every failure is explained as a SendFailure."""
        say = progress or (lambda _line: None)
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                smtp = _SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = _SMTP(self.host, self.port, timeout=self.timeout)
            say(f"connected to {self.where}")
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise SendFailure(
                        f'{self.where} does not offer STARTTLS: use security = "ssl" if it'
                        ' expects TLS from the start (port 465), or security = "none" only on a'
                        " trusted network",
                        temporary=False,
                        server=True,
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.security != "none":
                say(f"TLS negotiated ({_tls_version(smtp)}), certificate accepted")
            if self.username:
                smtp.login(self.username, self.password or "")
                say(f"logged in as {self.username}")
        except SendFailure:
            _quietly_close(smtp)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            _quietly_close(smtp)
            raise explain(exc, self, stage="connect") from exc
        return smtp

    def send(self, msg: EmailMessage | Wire, sender: str, recipient: str) -> str:
        reused = self._smtp is not None
        if self._smtp is None:
            self._smtp = self.connect()
        try:
            try:
                _hand_over(self._smtp, msg, sender, recipient)
            except (smtplib.SMTPServerDisconnected, smtplib.SMTPSenderRefused) as exc:
                # A reused connection the server closed meanwhile (idle, or its limit
                # of messages per connection): a 421 or a close at MAIL FROM, before
                # any of the message went out. Open a fresh one and send once more.
                if not reused or not _gone_at_mail(self._smtp, exc):
                    raise
                _quietly_close(self._smtp)
                self._smtp = None
                self._smtp = self.connect()
                _hand_over(self._smtp, msg, sender, recipient)
        except (OSError, smtplib.SMTPException) as exc:
            failure = explain(exc, self, stage="send", recipient=recipient)
            if failure.server:
                _quietly_close(self._smtp)
                self._smtp = None
            raise failure from exc
        return f"accepted by {self.where}"

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                _quietly_close(self._smtp)
            self._smtp = None


def make_transport(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Transport:
    """The transport [email] backend asks for."""
    if settings.email.backend == "smtp":
        return SMTPTransport.from_settings(settings, env, ssl_context)
    return FileTransport(settings.email.outbox_dir)


def check(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Connect, negotiate TLS, log in and quit without sending (`digest send --check`).

    Reports each step through `progress`; raises MailError explaining in
    words what failed. Returns a one-line verdict.
    """
    say = progress or (lambda _line: None)
    if settings.email.backend == "file":
        outbox = Path(settings.email.outbox_dir)
        try:
            outbox.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=outbox):
                pass
        except OSError as exc:
            raise MailError(
                f"cannot write to the outbox {outbox}: {exc.strerror or exc}"
                " (check [email] outbox_dir)"
            ) from exc
        say(f"the outbox folder {outbox}/ is writable")
        return f'ok: the file backend writes messages to {outbox}/ (set backend = "smtp" to send)'
    transport = SMTPTransport.from_settings(settings, env, ssl_context)
    say(f"connecting to {transport.where} ({transport.security})")
    smtp = transport.connect(progress=say)
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        _quietly_close(smtp)
    login = f" as {transport.username}" if transport.username else " (no login configured)"
    return f"ok: {transport.where} is ready to send{login}"


class _MailStage:
    """Remembers whether a failure happened at MAIL FROM (nothing of the message
    sent yet, so sending it again on a new connection cannot make a copy)."""

    at_mail = False

    def mail(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        self.at_mail = True
        reply = super().mail(*args, **kwargs)  # type: ignore[misc]
        self.at_mail = reply[0] == 421
        return reply


class _SMTP(_MailStage, smtplib.SMTP):
    pass


class _SMTP_SSL(_MailStage, smtplib.SMTP_SSL):  # noqa: N801
    pass


def _hand_over(smtp: smtplib.SMTP, msg: EmailMessage | Wire, sender: str, recipient: str) -> None:
    """MAIL, RCPT, DATA. A Wire is already bytes (digest.mail.mime writes only ASCII
    addresses); an EmailMessage is flattened by smtplib (SMTPUTF8 when needed)."""
    if isinstance(msg, Wire):
        smtp.sendmail(sender, [recipient], msg.data)
    else:
        smtp.send_message(msg, from_addr=sender, to_addrs=[recipient])


def _gone_at_mail(smtp: smtplib.SMTP | None, exc: smtplib.SMTPException) -> bool:
    """A disconnection, or a 421 ("closing the channel"), at MAIL FROM."""
    if not getattr(smtp, "at_mail", False):
        return False
    return not isinstance(exc, smtplib.SMTPSenderRefused) or exc.smtp_code == 421


def _tls_version(smtp: smtplib.SMTP) -> str:
    sock = smtp.sock
    if isinstance(sock, ssl.SSLSocket):
        return sock.version() or "TLS"
    return "TLS"


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()

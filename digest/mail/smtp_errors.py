"""SMTP failures in words, and what each one means for the next attempt.

Kept apart from the transports so that the long list of what smtplib, ssl and
the socket layer can raise does not hide how a message is sent.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import TYPE_CHECKING

from digest.errors import MailError
from digest.secrets import scrub

if TYPE_CHECKING:
    from digest.mail.transport import SMTPTransport


class SendFailure(MailError):
    """A message was not accepted; `temporary` and `server` say what to do next."""

    def __init__(self, message: str, *, temporary: bool, server: bool) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.server = server


def explain(
    exc: BaseException, t: SMTPTransport, *, stage: str, recipient: str | None = None
) -> SendFailure:
    """Turn what smtplib/ssl/socket raised into a classified failure, in words."""
    where = t.where

    def fail(text: str, temporary: bool, server: bool) -> SendFailure:
        # A server may echo the login back (AUTH PLAIN in base64): never pass it on.
        return SendFailure(scrub(text), temporary=temporary, server=server)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (550, b""))
        return fail(f"{where} refused {recipient}: {code} {_text(reply)}", code < 500, False)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return fail(
            f"{where} rejected the login for {t.username} ({exc.smtp_code}"
            f" {_text(exc.smtp_error)}): check [email] username and the password",
            False,
            True,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return fail(
            f"{where} does not offer AUTH on this connection: many servers offer login"
            ' only after STARTTLS (security = "starttls")',
            False,
            True,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return fail(
            f"{where} refused the sender {exc.sender}: {exc.smtp_code}"
            f" {_text(exc.smtp_error)} (check [email] from)",
            exc.smtp_code < 500,
            True,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code, temporary = exc.smtp_code, exc.smtp_code < 500
        server = stage == "connect" or code == 421
        what = f"the message to {recipient}" if recipient else "the connection"
        return fail(f"{where} refused {what}: {code} {_text(exc.smtp_error)}", temporary, server)
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(
        exc.__context__, TimeoutError
    ):
        exc = exc.__context__  # smtplib reports a read timeout as a disconnection
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        hint = ""
        if stage == "connect" and t.security == "starttls" and t.port == 465:
            hint = ': port 465 expects TLS from the start, use security = "ssl"'
        return fail(f"{where} closed the connection{hint}", True, True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return fail(
            f"the TLS certificate of {t.host} is not trusted"
            f" ({exc.verify_message or exc.reason}): the server must present a valid"
            " certificate for this host name",
            False,
            True,
        )
    if isinstance(exc, ssl.SSLError):
        hint = ""
        if t.security == "ssl":
            hint = (
                f': port {t.port} may expect plain SMTP first; use security = "starttls"'
                " (usually port 587)"
            )
        return fail(f"TLS with {where} failed ({exc.reason or exc}){hint}", False, True)
    if isinstance(exc, TimeoutError):
        hint = ""
        if stage == "connect" and t.security != "ssl" and t.port == 465:
            hint = ': port 465 expects TLS from the start, use security = "ssl"'
        return fail(f"{where} did not answer within {t.timeout:g} s{hint}", True, True)
    if isinstance(exc, ConnectionRefusedError):
        return fail(
            f"connection refused by {where}: is the SMTP server running, and are"
            " smtp_host and smtp_port right?",
            True,
            True,
        )
    if isinstance(exc, socket.gaierror):
        return fail(f"cannot resolve {t.host!r}: check [email] smtp_host", True, True)
    if isinstance(exc, OSError):
        return fail(f"network error talking to {where}: {exc.strerror or exc}", True, True)
    return fail(f"{where}: {exc}", True, True)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())

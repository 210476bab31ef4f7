"""The outbox transport: each message as a .eml file, its HTML part beside it."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from digest.files import write_atomic
from digest.mail.mime import Wire
from digest.mail.smtp_errors import SendFailure


class FileTransport:
    """Writes each message as a .eml file, with its HTML part beside it.

    The name is the Message-ID's local part plus the recipient, so a retried
    digest replaces its own file instead of adding a second one, and names
    sort in creation order (see mail.new_message_id). Writes are atomic
    (temporary file + rename): a .eml file present is a whole message.
    """

    name = "file"

    def __init__(self, outbox_dir: str | Path) -> None:
        self.outbox = Path(outbox_dir)

    def send(self, msg: EmailMessage | Wire, sender: str, recipient: str) -> str:
        if isinstance(msg, Wire):
            message_id, html, data = msg.message_id, msg.html, msg.data
        else:
            message_id, data = str(msg["Message-ID"]), msg.as_bytes(policy=_crlf(msg))
            part = msg.get_body(preferencelist=("html",))
            html = part.get_content() if part is not None else None
        local = message_id.strip().strip("<>").split("@", 1)[0]
        who = recipient.replace("@", "_")
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{local}_{who}")[:150]
        eml = self.outbox / f"{stem}.eml"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            if html is not None:
                # A reader's address and links: the operator's eyes only (0o600), and
                # kept across a power cut, since the email is then recorded as sent.
                page = html.encode()
                write_atomic(self.outbox / f"{stem}.html", page, mode=0o600, durable=True)
            write_atomic(eml, data, mode=0o600, durable=True)
        except OSError as exc:
            raise SendFailure(
                f"cannot write to the outbox {self.outbox}: {exc.strerror or exc}"
                " (check [email] outbox_dir)",
                temporary=False,
                server=True,
            ) from exc
        return str(eml)

    def close(self) -> None:
        return None


def _crlf(msg: EmailMessage) -> Any:
    return msg.policy.clone(linesep="\r\n")

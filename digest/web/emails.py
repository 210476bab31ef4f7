"""The confirmation email of a web sign-up (double opt-in)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from digest.config import Settings
from digest.mail.compose import POLICY, new_message_id, sender
from digest.render import render


def confirmation(
    settings: Settings, address: str, cadence: str, link: str, when: datetime
) -> EmailMessage:
    """A plain-text message asking `address` to open `link`.

    Anyone can type anyone's address into the form, so nothing else the form
    carries (name, keywords, topics) goes into this email: it would let a
    stranger put their words ("Visit http://...") in someone's inbox under our
    name. Only the fixed wording, the validated address, daily/weekly and the
    link.
    """
    title = " ".join(settings.digest.title.split())
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender(settings)[0]
    msg["To"] = address
    msg["Subject"] = f"Confirm your subscription to {title}"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = new_message_id(settings)
    msg["Auto-Submitted"] = "auto-generated"
    body = render(
        "confirm_email.txt.j2",
        settings.digest.templates_dir,
        title=title,
        reader=None,  # never the typed name; kept so that older custom templates render
        email=address,
        cadence=cadence,
        link=link,
    )
    msg.set_content(body.rstrip("\n") + "\n")
    return msg

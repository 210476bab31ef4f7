"""One render per distinct digest (digest.mail.bodies) and the digest written straight
to bytes (digest.mail.mime): both must give exactly what the general path gives."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import shutil
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from mail_support import library, library_template, settings_for  # noqa: F401

from digest.mail.bodies import SharedBodies
from digest.mail.compose import build_message, render_email, wire_message
from digest.mail.mime import Wire
from digest.mail.reader_links import personal
from digest.mail.transport import FileTransport
from digest.models import Subscriber
from digest.resources import resource_dir
from digest.store import open_db
from digest.store.summaries import listing

SECRET = "s" * 40
READERS = [
    Subscriber(email="ada@example.org", name="Ada Lovelace", id=1),
    Subscriber(email="bob@example.org", name=None, id=2),
    Subscriber(email="zoe@example.org", name="Zoë  Ørsted", id=3),
    Subscriber(email="tom@example.org", name="Tom & <Jerry>", id=4),  # escaped: rendered in full
    Subscriber(email="o'brien@example.org", name='Pat "P" O\'Brien', id=5),
    Subscriber(email="wen@example.org", name="Wen", id=6, frequency="weekly", weekday="mon"),
    Subscriber(email="tia@example.org", name="Tia", id=7, tags=("llm",), keywords=("agent",)),
    Subscriber(email="max@example.org", name="Max", id=8),
]


def _papers(db_path: Path) -> tuple[list[dict], list[dict]]:
    rows = listing(open_db(db_path))
    first = [{**r, "reason": None} for r in rows[:6]]
    second = [
        {**r, "reason": "matches “agent”" if n == 0 else None} for n, r in enumerate(rows[3:9])
    ]
    return first, second


def test_filled_emails_are_the_full_renders(library: Path) -> None:  # noqa: F811
    settings = settings_for(library, list_unsubscribe="mailto:leave@example.org?subject={email}")
    bodies = SharedBodies(settings)
    calls = 0
    for papers in _papers(library):
        for sub in READERS:
            shared = bodies.render(sub, papers, "2026-12-01")
            full = render_email(settings, sub, papers, "2026-12-01")
            calls += 1
            assert (shared.subject, shared.text, shared.html, shared.papers) == (
                full.subject,
                full.text,
                full.html,
                full.papers,
            ), sub
    # Per list: 4 stand-in renders (named, unnamed, weekly, filtered readers) and 2 in
    # full (Tom's and Pat's values need escaping); plus one check of a filled email.
    assert (bodies.rendered, bodies.filled, calls) == (2 * 4 + 2 * 2 + 1, 12, 16)
    assert "Zoë Ørsted" in bodies.render(READERS[2], papers, "2026-12-01").html


def test_signed_links_are_each_readers_own(library: Path, monkeypatch) -> None:  # noqa: ANN001, F811
    monkeypatch.setenv("DIGEST_WEB_SECRET", SECRET)
    settings = settings_for(library)
    settings.web.public_url = "https://papers.example.org"
    bodies = SharedBodies(settings)
    papers = _papers(library)[0]
    for sub in READERS[:3] + READERS[5:]:
        own = personal(settings, sub)
        shared = bodies.render(sub, papers, "2026-12-01", own)
        full = render_email(settings, sub, papers, "2026-12-01", values=own)
        assert (shared.text, shared.html, shared.links) == (full.text, full.html, own.links)
        assert own.vote is not None and own.vote(papers[0]["id"], 1) in shared.html
    assert bodies.filled >= 3


def test_a_template_that_changes_a_value_turns_sharing_off(library: Path, tmp_path: Path) -> None:  # noqa: F811
    folder = tmp_path / "templates"
    folder.mkdir()
    for name in ("email.txt.j2", "email.html.j2", "email.css"):
        shutil.copyfile(resource_dir("templates") / name, folder / name)
    text = (folder / "email.txt.j2").read_text()
    (folder / "email.txt.j2").write_text(text.replace("Hi {{ reader }}", "Hi {{ reader | upper }}"))
    settings = settings_for(library)
    settings.digest.templates_dir = str(folder)
    bodies = SharedBodies(settings)
    papers = _papers(library)[0]
    for sub in (READERS[0], READERS[7], READERS[2]):
        assert bodies.render(sub, papers, "2026-12-01").text == (
            render_email(settings, sub, papers, "2026-12-01").text
        )
    assert "Hi MAX," in bodies.render(READERS[7], papers, "2026-12-01").text
    assert bodies.filled == 0


def _parsed(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def test_the_wire_form_reads_as_the_general_message(library: Path, tmp_path: Path) -> None:  # noqa: F811
    settings = settings_for(library, list_unsubscribe="mailto:leave@example.org")
    papers = _papers(library)[0]
    when = datetime(2026, 12, 1, 7, 0, 5, tzinfo=UTC)
    ada = render_email(settings, READERS[0], papers, "2026-12-01")
    # Lines past 998 bytes: base64 when mostly not ASCII, else quoted-printable.
    wide = dataclasses.replace(ada, html="<p>" + "wide é " * 400 + "</p>\n")
    long_line = dataclasses.replace(ada, html="<p>" + "long line, é " * 100 + "</p>\n")
    for sub, rendered in [
        (READERS[2], render_email(settings, READERS[2], papers, "2026-12-01")),
        (READERS[4], render_email(settings, READERS[4], papers, "2026-12-01")),
        (READERS[0], wide),
        (READERS[0], long_line),
    ]:
        wire = wire_message(settings, sub, rendered, message_id="<m.1@example.org>", when=when)
        general = build_message(settings, sub, rendered, message_id="<m.1@example.org>", when=when)
        assert isinstance(wire, Wire) and b"\r\n" in wire.data and b"\n\n" not in wire.data
        ours, theirs = _parsed(wire.data), _parsed(general.as_bytes(policy=email.policy.SMTP))
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe"):
            assert ours[header] == theirs[header], header
        assert ours["Content-Type"] == theirs["Content-Type"]
        for kind in ("plain", "html"):
            mine, other = ours.get_body((kind,)), theirs.get_body((kind,))
            assert mine is not None and other is not None
            assert mine.get_content() == other.get_content()
            assert mine["Content-Transfer-Encoding"] == other["Content-Transfer-Encoding"]
    outbox = tmp_path / "outbox"
    FileTransport(outbox).send(wire, "digest@example.org", "ada@example.org")
    [eml] = outbox.glob("*.eml")
    [page] = outbox.glob("*.html")
    assert eml.read_bytes() == wire.data and page.read_text() == long_line.html


def test_a_header_past_the_line_limit_takes_the_general_path(library: Path) -> None:  # noqa: F811
    settings = settings_for(library)
    sub = Subscriber(email="ada@example.org", name="Ada " * 300, id=9)
    rendered = render_email(settings, sub, _papers(library)[0], "2026-12-01")
    msg = wire_message(
        settings, sub, rendered, message_id="<m.2@example.org>", when=datetime.now(UTC)
    )
    assert isinstance(msg, EmailMessage) and msg["To"].addresses[0].addr_spec == "ada@example.org"
    assert all(len(line) <= 998 for line in msg.as_bytes().splitlines())

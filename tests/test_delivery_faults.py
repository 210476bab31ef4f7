"""Faults on the way to a real SMTP server: no paper is lost, none is sent twice
(except the one documented resend after a lost acceptance, same Message-ID)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import mail_support
import pytest
from mail_support import delivered, expected_ids, listed_titles, settings_for, titles_of
from smtp_server import SMTPServer, refusing_port, smtp_server

from digest.mail.delivery import send_digests
from digest.mail.transport import SMTPTransport
from digest.status.readers import reader_lines
from digest.store import open_db
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber

library_template, library = mail_support.library_template, mail_support.library

READERS = {
    "ada@example.org": {"tags": ["vae", "causality"]},
    "bob@example.org": {"keywords": ["language model"]},
    "carol@example.org": {},
}
ORACLES = {
    "ada@example.org": {"tags": ("vae", "causality")},
    "bob@example.org": {"keywords": ("language model",)},
    "carol@example.org": {},
}


@pytest.fixture
def setup(library: Path):  # noqa: ANN201
    db = open_db(library)
    settings = settings_for(library, retries=3)
    settings.digest.max_papers = 10
    for address, filters in READERS.items():
        save_subscriber(db, make_subscriber(address, vocabulary=settings.vocabulary, **filters))
    return db, settings


def _transport(server: SMTPServer | int) -> SMTPTransport:
    port = server if isinstance(server, int) else server.port
    return SMTPTransport("127.0.0.1", port, security="none", timeout=5)


def _send(db, settings, port, waits: list[float] | None = None, **kw):  # noqa: ANN001, ANN202
    waits = [] if waits is None else waits
    kw.setdefault("force", True)  # several sends in one test day, as on several days
    return send_digests(db, settings, transport=_transport(port), sleep=waits.append, **kw)


def _all_titles(server: SMTPServer, address: str) -> Counter:
    return Counter(t for m in server.messages_to(address) for t in listed_titles(m))


def _assert_each_paper_exactly_once(library: Path, server: SMTPServer, cap: int) -> None:
    """Every due paper delivered once (in the DB and in the mailboxes)."""
    for address, oracle in ORACLES.items():
        ids = delivered(library, address)
        assert len(ids) == len(set(ids))
        everything = expected_ids(library, cap=1000, **oracle)
        assert set(ids) <= set(everything)
        assert _all_titles(server, address) == Counter(titles_of(library, ids)), address
        assert len(ids) == min(len(everything), cap * len(server.messages_to(address)))


def test_451_on_the_first_attempt_is_retried_after_a_backoff(setup, library: Path) -> None:
    db, settings = setup
    waits: list[float] = []
    with smtp_server() as server:
        server.faults.temporary_data = 1
        report = _send(db, settings, server, waits)
        assert (report.sent, report.failed) == (3, 0)
        assert waits == [2.0]  # one backoff, before the second attempt
        assert server.handler.attempts == 4
        _assert_each_paper_exactly_once(library, server, cap=10)


def test_a_dropped_connection_is_retried_on_a_new_connection(setup, library: Path) -> None:
    db, settings = setup
    with smtp_server() as server:
        server.faults.drop_data = 1
        report = _send(db, settings, server)
        assert report.ok and report.sent == 3
        assert len(server.received) == 3
        _assert_each_paper_exactly_once(library, server, cap=10)


def test_a_550_fails_one_subscriber_and_the_others_get_theirs(setup, library: Path) -> None:
    db, settings = setup
    waits: list[float] = []
    with smtp_server() as server:
        server.faults.reject["bob@example.org"] = "550 5.1.1 <bob@example.org>: no such user"
        report = _send(db, settings, server, waits)
        assert waits == []  # a permanent refusal is not retried within the run
        assert (report.sent, report.failed, report.ok) == (2, 1, False)
        (bob,) = [o for o in report.outcomes if o.email == "bob@example.org"]
        assert bob.line == (
            f"bob@example.org: failed: 127.0.0.1:{server.port} refused bob@example.org: 550"
            " 5.1.1 <bob@example.org>: no such user; its papers stay due for the next send"
        )
        assert report.errors == [bob.line]
        assert delivered(library, "bob@example.org") == []
        assert any(
            "last error" in line and "550 5.1.1" in line and "tried again next send" in line
            for line in reader_lines(db, settings)
            if line.startswith("bob")
        )

        server.faults.reject.clear()  # the mailbox exists again
        second = _send(db, settings, server)
        assert [o.status for o in second.outcomes] == ["sent", "sent", "sent"]
        _assert_each_paper_exactly_once(library, server, cap=10)
        assert len(server.messages_to("bob@example.org")) == 1


def test_a_lost_reply_after_acceptance_resends_once_with_the_same_message_id(
    setup, library: Path
) -> None:
    db, settings = setup
    settings.email.retries = 1
    with smtp_server() as server:
        server.faults.drop_after_accept = 1
        first = _send(db, settings, server)
        assert [o.status for o in first.outcomes] == ["pending", "skipped", "skipped"]
        assert "closed the connection" in first.outcomes[0].detail
        assert first.outcomes[1].line.startswith(
            "bob@example.org: not tried: the mail server is failing"
        )
        assert delivered(library, "ada@example.org") == []  # not confirmed: not delivered

        second = _send(db, settings, server)
        assert second.ok and second.sent == 3
        copies = server.messages_to("ada@example.org")
        assert len(copies) == 2  # the documented one resend ...
        assert copies[0]["Message-ID"] == copies[1]["Message-ID"]  # ... is the same message
        assert copies[0]["Date"] == copies[1]["Date"]
        assert listed_titles(copies[0]) == listed_titles(copies[1])
        ids = delivered(library, "ada@example.org")
        assert sorted(ids) == sorted(expected_ids(library, cap=10, **ORACLES["ada@example.org"]))


def test_a_server_that_is_down_leaves_every_digest_for_the_next_run(setup, library: Path) -> None:
    db, settings = setup
    with refusing_port() as down:  # nothing listens here yet
        port = down.getsockname()[1]
        waits: list[float] = []
        first = _send(db, settings, port, waits)
        assert waits == [2.0, 4.0]  # three attempts for the first subscriber, then stop
        assert [o.status for o in first.outcomes] == ["pending", "skipped", "skipped"]
        assert first.outcomes[0].detail == (
            f"connection refused by 127.0.0.1:{port}: is the SMTP server running, and are"
            " smtp_host and smtp_port right? (after 3 attempts); the digest is sent again"
            " next time"
        )
        lines = reader_lines(db, settings)
        assert "not sent after 3 attempts" in lines[0] and "failing, retried next send" in lines[0]
        (pending_id,) = db.execute(
            "SELECT message_id FROM deliveries WHERE status = 'pending'"
        ).fetchone()
        with smtp_server(sock=down) as server:  # the server comes up on the same port
            second = _send(db, settings, port)
            assert second.sent == 3
            _assert_each_paper_exactly_once(library, server, cap=10)
            assert server.messages_to("ada@example.org")[0]["Message-ID"] == pending_id


def test_a_crash_after_acceptance_means_one_resend_with_the_same_message_id(
    setup, library: Path
) -> None:
    db, settings = setup

    class CrashAfterSending(SMTPTransport):
        """The real transport, then the process dies before recording the delivery."""

        def send(self, msg: EmailMessage, sender: str, recipient: str) -> str:
            super().send(msg, sender, recipient)
            raise KeyboardInterrupt

    with smtp_server() as server:
        with pytest.raises(KeyboardInterrupt):
            send_digests(
                db,
                settings,
                transport=CrashAfterSending("127.0.0.1", server.port, security="none", timeout=5),
            )
        assert len(server.received) == 1 and delivered(library, "ada@example.org") == []
        report = _send(db, settings, server)
        assert report.sent == 3
        first, again = server.messages_to("ada@example.org")
        assert first["Message-ID"] == again["Message-ID"]
        assert delivered(library, "ada@example.org") == sorted(
            expected_ids(library, cap=10, **ORACLES["ada@example.org"])
        )


def test_every_fault_in_turn_then_every_paper_exactly_once(setup, library: Path) -> None:
    db, settings = setup
    settings.digest.max_papers = 4  # several digests each: the rest rolls over
    with smtp_server() as server:
        faults = [
            ("temporary_data", 1),
            ("drop_data", 1),
            ("drop_after_accept", 1),
            ("reject", {"carol@example.org": "550 no such user"}),
            ("reject", {}),
        ]
        for name, value in faults * 2:
            setattr(server.faults, name, value)
            _send(db, settings, server)
        for _ in range(30):
            if _send(db, settings, server).sent == 0:
                break
        for address, oracle in ORACLES.items():
            everything = expected_ids(library, cap=1000, **oracle)
            assert sorted(delivered(library, address)) == sorted(everything), address
            got = _all_titles(server, address)
            assert set(got) == set(titles_of(library, everything))
            resent = {t for t, n in got.items() if n > 1}
            ids = [m["Message-ID"] for m in server.messages_to(address)]
            # A paper arrives twice only in a resend of a whole digest, same Message-ID.
            assert len(resent) <= 4 * (len(ids) - len(set(ids)))


def test_an_address_rejected_three_times_is_paused_until_subscribed_again(
    setup, library: Path
) -> None:
    db, settings = setup
    with smtp_server() as server:
        server.faults.reject["bob@example.org"] = "550 no such user"
        for _ in range(3):
            assert _send(db, settings, server, subscriber="bob@example.org").failed == 1
        paused = _send(db, settings, server, subscriber="bob@example.org")
        assert paused.outcomes[0].status == "paused"
        assert paused.ok  # a paused address does not fail every run
        assert "paused after 3 rejected emails" in " ".join(reader_lines(db, settings))
        server.faults.reject.clear()
        later = datetime.now(UTC) + timedelta(minutes=1)
        save_subscriber(
            db,
            make_subscriber(
                "bob@example.org", vocabulary=settings.vocabulary, keywords=["language model"]
            ),
            now=later.isoformat(timespec="seconds"),
            touch=True,
        )
        resumed = _send(
            db, settings, server, subscriber="bob@example.org", now=later + timedelta(minutes=1)
        )
        assert resumed.sent == 1


def test_papers_too_old_by_the_retry_still_go_out_with_their_digest(setup, library: Path) -> None:
    db, settings = setup
    with refusing_port() as down:
        port = down.getsockname()[1]
        assert _send(db, settings, port, subscriber="ada@example.org").failed == 1
        later = datetime.now(UTC) + timedelta(days=settings.digest.max_age_days + 1)
        with smtp_server(sock=down) as server:
            report = _send(db, settings, port, subscriber="ada@example.org", now=later)
            assert report.sent == 1 and report.outcomes[0].papers == 10
            assert len(server.messages_to("ada@example.org")) == 1

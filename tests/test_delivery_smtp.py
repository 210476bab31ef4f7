"""`digest send` through a real SMTP server (STARTTLS + AUTH on 127.0.0.1):
three subscribers with different filters get the right papers exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import mail_support
import pytest
from mail_support import LATER_DUMP, body, delivered, expected_ids, listed_titles, titles_of
from smtp_server import Certificate, make_certificate, smtp_server

READERS = {
    # email: (config lines, oracle filters)
    "ada@example.org": (
        'name = "Ada"\ntags = ["vae", "diffusion"]',
        {"tags": ("vae", "diffusion")},
    ),
    "bob@example.org": (
        'keywords = ["language model"]\nexclude_tags = ["alignment"]',
        {"keywords": ("language model",), "exclude": ("alignment",)},
    ),
}
CAROL = "carol@example.org"  # subscribed on the command line, no filters

# Fixtures: a private, summarised copy of the first seed dump per test.
library_template, library = mail_support.library_template, mail_support.library


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _config(port: int) -> str:
    readers = "".join(
        f'[[subscribers]]\nemail = "{e}"\n{lines}\n' for e, (lines, _) in READERS.items()
    )
    return (
        '[email]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\n'
        f'smtp_port = {port}\nsecurity = "starttls"\nusername = "digest"\n'
        'password_env = "TEST_SMTP_PASSWORD"\nfrom = "Papers <papers@example.org>"\n'
        'list_unsubscribe = "mailto:leave@example.org?subject=unsubscribe%20{email}"\n'
        "timeout = 5\n"
        f'[digest]\ntitle = "Lab digest"\nmax_papers = 200\n{readers}'
    )


def test_three_subscribers_get_their_papers_once_and_new_ones_next_run(
    invoke,
    library: Path,
    certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))  # trust the test's own CA
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with smtp_server(tls=certificate, auth={"digest": "s3cret"}, require_starttls=True) as server:
        Path("digest.toml").write_text(_config(server.port))
        assert invoke("subscribe", CAROL).exit_code == 0
        oracles = {**{e: o for e, (_, o) in READERS.items()}, CAROL: {}}

        first = invoke("send")
        assert first.exit_code == 0, first.output
        wanted = {e: expected_ids(library, cap=200, **o) for e, o in oracles.items()}
        assert all(wanted.values()) and len({tuple(v) for v in wanted.values()}) == 3
        for address, ids in wanted.items():
            (msg,) = server.messages_to(address)
            assert listed_titles(msg) == titles_of(library, ids)
            assert delivered(library, address) == sorted(ids)
            day = msg["Date"].datetime.date()
            assert msg["Subject"] == f"Lab digest — {day} ({len(ids)} papers)"
            assert msg["From"] == "Papers <papers@example.org>"
            assert msg["To"].addresses[0].addr_spec == address
            assert msg["List-Unsubscribe"] == (
                f"<mailto:leave@example.org?subject=unsubscribe%20{address}>"
            )
            assert msg["Message-ID"].endswith("@example.org>")
            assert "TL;DR" in body(msg, "html") and "TL;DR" in body(msg, "plain")
        assert {r.mail_from for r in server.received} == {"papers@example.org"}
        assert first.stdout.splitlines()[-1] == "3 emails sent"
        assert f"ada@example.org: sent {len(wanted['ada@example.org'])} papers" in first.stdout

        again = invoke("send")
        assert again.exit_code == 0
        assert len(server.received) == 3
        assert again.stdout.splitlines()[-1] == "0 emails sent, 3 with nothing new"

        assert invoke("ingest", str(LATER_DUMP)).exit_code == 0
        assert invoke("summarize").exit_code == 0
        third = invoke("send", "--force")  # a second email on the same digest day
        assert third.exit_code == 0, third.output
        assert len(server.received) == 6
        # Carol's 130+ papers do not fit one email under Gmail's clipping size: it
        # shows what fits and says so; the rest stay due for the next email.
        (_, cut) = server.messages_to(CAROL)
        assert "more papers, left out to keep this email short" in body(cut, "plain")
        for _ in range(3):
            if invoke("send", "--force").stdout.splitlines()[-1].startswith("0 emails"):
                break
        for address, oracle in oracles.items():
            everything = expected_ids(library, cap=1000, **oracle)
            assert delivered(library, address) == sorted(everything)
            got = Counter(t for m in server.messages_to(address) for t in listed_titles(m))
            assert got == Counter(titles_of(library, everything))  # each paper exactly once
            ids = [m["Message-ID"] for m in server.messages_to(address)]
            assert len(set(ids)) == len(ids) == (3 if address == CAROL else 2)


def test_plain_smtp_without_tls_or_login(invoke, library: Path) -> None:
    with smtp_server() as server:
        Path("digest.toml").write_text(
            f'[email]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {server.port}\n'
            'security = "none"\n'
        )
        invoke("subscribe", "ada@example.org", "--max-papers", "2")
        out = invoke("send", "--subscriber", "ada@example.org")
        assert out.exit_code == 0
        assert out.stdout == (
            f"ada@example.org: sent 2 papers (accepted by 127.0.0.1:{server.port})\n1 email sent\n"
        )
        (msg,) = server.messages_to("ada@example.org")
        assert listed_titles(msg) == titles_of(library, expected_ids(library, cap=2))


def test_login_over_implicit_tls(library: Path, certificate: Certificate) -> None:
    from mail_support import settings_for

    from digest.mail.delivery import send_digests
    from digest.mail.transport import SMTPTransport
    from digest.store import open_db
    from digest.store.subscribers import save_subscriber
    from digest.subscriptions import make_subscriber

    db = open_db(library)
    settings = settings_for(library)
    save_subscriber(
        db, make_subscriber("ada@example.org", vocabulary=settings.vocabulary, max_papers=1)
    )
    with smtp_server(tls=certificate, implicit_tls=True, auth={"u": "pw"}) as server:
        transport = SMTPTransport(
            server.host,
            server.port,
            security="ssl",
            username="u",
            password="pw",
            timeout=5,
            ssl_context=certificate.client_context(),
        )
        report = send_digests(db, settings, transport=transport)
        assert (report.sent, report.failed) == (1, 0)
        assert len(server.messages_to("ada@example.org")) == 1

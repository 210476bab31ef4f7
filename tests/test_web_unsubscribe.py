"""RFC 8058 one-click unsubscribe: headers in every email, a POST that works
without cookies, a GET that only shows a button, the next send skips the reader."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import mail_support
import pytest
from mail_support import settings_for
from web_support import ENV, SECRET, running_web

from digest.errors import ConfigError
from digest.mail.delivery import send_digests
from digest.signing import TokenError, make_token, read_token
from digest.store import open_db
from digest.store.subscribers import get_subscriber, save_subscriber
from digest.subscriptions import make_subscriber

library_template, library = mail_support.library_template, mail_support.library


def _subscribe(db_path: Path, address: str) -> None:
    db = open_db(db_path)
    save_subscriber(db, make_subscriber(address, vocabulary=[]))
    db.conn.close()


def _outbox(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def _send(settings) -> object:  # noqa: ANN001
    db = open_db(settings.db)
    try:
        return send_digests(db, settings)
    finally:
        db.conn.close()


def test_one_click_post_unsubscribes_and_the_next_send_skips_the_reader(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_WEB_SECRET", SECRET)
    _subscribe(library, "ada@example.org")
    _subscribe(library, "bob@example.org")
    settings = settings_for(
        library, list_unsubscribe="mailto:leave@example.org", outbox_dir=str(tmp_path / "out")
    )
    with running_web(settings) as site:
        assert _send(settings).sent == 2
        messages = {str(m["To"]): m for m in _outbox(tmp_path / "out")}
        ada = messages["ada@example.org"]
        header = ada["List-Unsubscribe"]
        https, mailto = [part.strip().strip("<>") for part in header.split(",")]
        assert https.startswith(site.url + "/u/")
        assert mailto == "mailto:leave@example.org"
        assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = ada.get_body(preferencelist=("plain",)).get_content()
        assert f"Unsubscribe: {https}" in text
        assert f"Manage your subscription: {site.url}/m/" in text
        html = ada.get_body(preferencelist=("html",)).get_content()
        assert f'href="{https}"' in html

        # What a mail provider sends: no cookies, no CSRF field, the RFC's body.
        with site.client() as client:
            reply = client.post(
                https,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert reply.status_code == 200
            assert "You are unsubscribed" in reply.text
            again = client.post(https, content=b"List-Unsubscribe=One-Click")
            assert again.status_code == 200  # a provider retrying is told the same

    db = open_db(library)
    assert get_subscriber(db, "ada@example.org").active is False
    assert get_subscriber(db, "bob@example.org").active is True
    report = send_digests(db, settings, force=True)
    assert [o.email for o in report.outcomes] == ["bob@example.org"]


def test_get_only_shows_a_button_so_link_scanners_unsubscribe_nobody(library: Path) -> None:
    _subscribe(library, "ada@example.org")
    settings = settings_for(library)
    with running_web(settings) as site, site.client() as client:
        sub = get_subscriber(open_db(library), "ada@example.org")
        token = make_token(SECRET, "unsubscribe", sub.id or 0, sub.token_version)
        for _ in range(3):  # a scanner, then a preview, then the reader
            page = client.get(f"/u/{token}")
            assert page.status_code == 200
            assert '<button type="submit" class="danger">Unsubscribe</button>' in page.text
            assert "ada@example.org" in page.text
        head = client.head(f"/u/{token}")
        assert head.status_code == 200
        assert get_subscriber(open_db(library), "ada@example.org").active is True
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert client.post(f"/u/{token}").status_code == 200
    assert get_subscriber(open_db(library), "ada@example.org").active is False


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (lambda sid, v: make_token("another-key-0123456789abcdef", "unsubscribe", sid, v), 400),
        (lambda sid, v: make_token(SECRET, "manage", sid, v), 400),  # made for another purpose
        (lambda sid, v: make_token(SECRET, "unsubscribe", sid + 99, v), 410),  # nobody
        (lambda sid, v: "not-a-token", 400),
        (lambda sid, v: "x" * 5000, 400),
        (lambda sid, v: make_token(SECRET, "unsubscribe", sid, v)[:-3] + "abc", 400),
    ],
)
def test_bad_tokens_get_a_clear_4xx_and_change_nothing(library: Path, make, status: int) -> None:  # noqa: ANN001
    _subscribe(library, "ada@example.org")
    settings = settings_for(library)
    sub = get_subscriber(open_db(library), "ada@example.org")
    with running_web(settings) as site, site.client() as client:
        reply = client.post(f"/u/{make(sub.id, sub.token_version)}")
        assert reply.status_code == status
        assert "Error" in reply.text and "Traceback" not in reply.text
        assert client.get(f"/u/{make(sub.id, sub.token_version)}").status_code == status
    assert get_subscriber(open_db(library), "ada@example.org").active is True


def test_a_one_click_from_any_past_email_unsubscribes_after_the_reader_came_back(
    library: Path,
) -> None:
    _subscribe(library, "ada@example.org")
    db = open_db(library)
    sub = get_subscriber(db, "ada@example.org")
    old = make_token(SECRET, "unsubscribe", sub.id or 0, sub.token_version)
    old_manage = make_token(SECRET, "manage", sub.id or 0, sub.token_version)
    settings = settings_for(library)
    with running_web(settings) as site, site.client() as client:
        assert client.post(f"/u/{old}").status_code == 200
        _subscribe(library, "ada@example.org")  # back again (the operator, or a new sign-up)
        assert get_subscriber(db, "ada@example.org").token_version == sub.token_version + 1
        page = client.get(f"/u/{old}")  # a scanner: only the button, nobody unsubscribed
        assert page.status_code == 200 and "Unsubscribe</button>" in page.text
        assert get_subscriber(db, "ada@example.org").active is True
        reply = client.post(f"/u/{old}", content=b"List-Unsubscribe=One-Click")
        assert reply.status_code == 200 and "You are unsubscribed" in reply.text
        assert get_subscriber(db, "ada@example.org").active is False
        assert client.get(f"/m/{old_manage}").status_code == 410  # manage links do retire
    assert get_subscriber(db, "ada@example.org").active is False


def test_tokens_carry_purpose_subject_and_version_and_refuse_everything_else() -> None:
    token = make_token(SECRET, "manage", 7, 3)
    found = read_token(SECRET, "manage", token)
    assert (found.purpose, found.subject, found.version) == ("manage", 7, 3)
    for purpose in ("unsubscribe", "confirm"):
        with pytest.raises(TokenError, match="not valid"):
            read_token(SECRET, purpose, token)
    with pytest.raises(TokenError, match="not valid"):
        read_token("a-different-secret-key-123456", "manage", token)
    with pytest.raises(TokenError) as expired:
        read_token(SECRET, "manage", token, max_age=-1)
    assert expired.value.expired


def test_a_public_url_without_a_signing_key_is_a_config_error(library: Path) -> None:
    settings = settings_for(library)
    settings.web.public_url = "https://papers.example.org"
    from digest.web import create_app

    with pytest.raises(ConfigError, match="set DIGEST_WEB_SECRET to a random key"):
        create_app(settings, env={})
    with pytest.raises(ConfigError, match="at least 16"):
        create_app(settings, env={"DIGEST_WEB_SECRET": "short"})
    assert create_app(settings, env=ENV) is not None


def test_without_a_public_url_emails_keep_the_operator_footer(
    library: Path, tmp_path: Path
) -> None:
    _subscribe(library, "ada@example.org")
    settings = settings_for(library, outbox_dir=str(tmp_path / "out"))
    assert _send(settings).sent == 1
    (msg,) = _outbox(tmp_path / "out")
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert "digest unsubscribe ada@example.org" in msg.get_body(("plain",)).get_content()


def test_migration_m030_adds_token_versions_signups_and_rate_limit_rows() -> None:
    from digest.store import open_memory

    db = open_memory()
    assert db["subscribers"].columns_dict["token_version"] is int
    assert set(db["signups"].columns_dict) == {
        "id",
        "email",
        "name",
        "tags",
        "keywords",
        "frequency",
        "created",
        "confirmed",
    }
    assert set(db["web_hits"].columns_dict) == {"key", "at"}
    save_subscriber(db, make_subscriber("ada@example.org", vocabulary=[]))
    assert get_subscriber(db, "ada@example.org").token_version == 0


def test_a_database_busy_past_the_timeout_is_a_503_and_changes_nothing(library: Path) -> None:
    import sqlite3

    _subscribe(library, "ada@example.org")
    sub = get_subscriber(open_db(library), "ada@example.org")
    token = make_token(SECRET, "unsubscribe", sub.id or 0, sub.token_version)
    with running_web(settings_for(library), busy_timeout=0.2) as site, site.client() as client:
        writer = sqlite3.connect(library, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            busy = client.post(f"/u/{token}")
            page = client.get(f"/u/{token}")  # reading never waits
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
        assert "try again" in busy.text and page.status_code == 200
        assert get_subscriber(open_db(library), "ada@example.org").active is True
        assert client.post(f"/u/{token}").status_code == 200
    assert get_subscriber(open_db(library), "ada@example.org").active is False


def test_the_list_unsubscribe_header_is_the_link_in_the_body_even_a_second_later(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time
    from datetime import UTC, datetime

    from digest.mail.compose import build_message, render_email
    from digest.store.summaries import listing

    monkeypatch.setenv("DIGEST_WEB_SECRET", SECRET)
    _subscribe(library, "ada@example.org")
    settings = settings_for(library)
    settings.web.public_url = "https://papers.example.org"
    db = open_db(library)
    sub = get_subscriber(db, "ada@example.org")
    rendered = render_email(settings, sub, listing(db)[:2], "2026-12-01")
    time.sleep(1.1)  # tokens carry the second they were signed
    msg = build_message(settings, sub, rendered, message_id="<a@b>", when=datetime.now(UTC))
    header = msg["List-Unsubscribe"].strip("<>")
    assert header.startswith("https://papers.example.org/u/")
    assert f"Unsubscribe: {header}" in msg.get_body(("plain",)).get_content()

"""Subscribing on the web: double opt-in through a real SMTP server, CSRF,
rate limits, no enumeration of known addresses, links that work once and expire."""

from __future__ import annotations

import time
from pathlib import Path

import mail_support
import pytest
from mail_support import settings_for
from smtp_server import smtp_server
from web_support import SECRET, csrf_of, link_in, running_web

from digest.signing import make_token
from digest.store import open_db
from digest.store.subscribers import get_subscriber, list_subscribers

library_template, library = mail_support.library_template, mail_support.library


def _smtp_settings(db: Path, port: int):  # noqa: ANN202
    settings = settings_for(db, backend="smtp", smtp_host="127.0.0.1", smtp_port=port)
    settings.email.security = "none"
    settings.email.timeout = 5
    return settings


def _form(client, **fields: object) -> object:  # noqa: ANN001
    page = client.get("/subscribe")
    assert page.status_code == 200
    data = {"csrf": csrf_of(page.text), "email": "", "name": "", "keywords": "", **fields}
    return client.post("/subscribe", data=data)


def test_subscribe_confirm_by_email_then_the_reader_exists(library: Path) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            reply = _form(
                client,
                email="Ada@Example.org",
                name="Ada",
                tags=["llm", "agents-robotics"],
                keywords="sparse autoencoder, reasoning",
                frequency="weekly",
            )
            assert reply.status_code == 200
            assert "Check your inbox" in reply.text
            assert list_subscribers(open_db(library)) == []  # nothing until the click
            (msg,) = mail.messages_to("ada@example.org")
            assert msg["Subject"] == "Confirm your subscription to Trending papers"
            url = link_in(msg, "/confirm/")
            assert url.startswith(site.url + "/confirm/")
            page = client.get(url)  # what a link scanner would fetch: only a button
            assert page.status_code == 200 and "Confirm subscription" in page.text
            assert list_subscribers(open_db(library)) == []
            done = client.post(url, data={"csrf": csrf_of(page.text)})
            assert done.status_code == 200 and "You are subscribed" in done.text
            assert f'href="{site.url}/m/' in done.text
            again = client.post(url, data={"csrf": csrf_of(page.text)})
            assert again.status_code == 410 and "already used" in again.text
    sub = get_subscriber(open_db(library), "ada@example.org")
    assert sub.active and sub.name == "Ada"
    assert sub.tags == ("llm", "agents-robotics")
    assert sub.keywords == ("sparse autoencoder", "reasoning")
    assert sub.frequency == "weekly"


def test_known_and_unknown_addresses_get_the_same_answer(library: Path) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            first = _form(client, email="new@example.org")
            assert first.status_code == 200
            page = client.get(link_in(mail.messages_to("new@example.org")[0], "/confirm/"))
            client.post(str(page.url), data={"csrf": csrf_of(page.text)})
            known = _form(client, email="new@example.org")
            unknown = _form(client, email="other@example.org")
            assert known.status_code == unknown.status_code == 200
            assert known.text.replace("new@", "X@") == unknown.text.replace("other@", "X@")
            # Past the per-address limit: the same page, but no more email to that inbox.
            for _ in range(4):
                assert "Check your inbox" in _form(client, email="target@example.org").text
            assert len(mail.messages_to("target@example.org")) == 3


def test_posts_without_the_csrf_cookie_or_field_are_refused(library: Path) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            bare = client.post("/subscribe", data={"email": "ada@example.org"})
            assert bare.status_code == 403 and "reload the page" in bare.text
            token = csrf_of(client.get("/subscribe").text)
            with site.client() as other:  # a forged cross-site post carries no cookie
                forged = other.post("/subscribe", data={"email": "a@example.org", "csrf": token})
            assert forged.status_code == 403
            wrong = client.post("/subscribe", data={"email": "a@example.org", "csrf": "x" * 32})
            assert wrong.status_code == 403
            assert mail.received == []
    assert list_subscribers(open_db(library)) == []


def test_hostile_form_input_is_refused_or_shown_as_text(library: Path) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            xss = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
            bad = _form(client, email=xss, name=xss)
            assert bad.status_code == 400
            assert "<script>alert(1)" not in bad.text and "&lt;script&gt;" in bad.text
            injected = _form(client, email="ada@example.org\r\nBcc: eve@example.org")
            assert injected.status_code == 400
            tag = _form(client, email="ada@example.org", tags=["<b>nope</b>"])
            assert tag.status_code == 400 and "&lt;b&gt;nope" in tag.text
            long_name = _form(client, email="ada@example.org", name="n" * 5000)
            assert long_name.status_code == 400
            page = client.get("/subscribe")
            huge = client.post(
                "/subscribe",
                data={"csrf": csrf_of(page.text), "email": "a@example.org", "name": "x" * 100_000},
            )
            assert huge.status_code == 413
            json = client.post("/subscribe", json={"email": "a@example.org"})
            assert json.status_code in (403, 415)
            # A name with markup is stored as text and shown escaped in the email.
            ok = _form(client, email="ada@example.org", name="Ada <b>Lovelace</b>")
            assert ok.status_code == 200
            (msg,) = mail.messages_to("ada@example.org")
            assert msg["To"] == "ada@example.org" and msg["Bcc"] is None
            assert len(mail.received) == 1
    assert list_subscribers(open_db(library)) == []


def test_the_confirmation_email_carries_nothing_typed_into_the_form(library: Path) -> None:
    # Anyone can sign up anyone's address: what they type must not reach that inbox.
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            reply = _form(
                client,
                email="victim@example.org",
                name="Visit http://evil.example/phish now",
                keywords="call +1 555 0100, evil.example/kw",
                tags=["llm"],
            )
            assert reply.status_code == 200
            (msg,) = mail.messages_to("victim@example.org")
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert body.splitlines()[0] == "Hello,"
    for typed in ("Visit", "evil.example", "phish", "555", "llm"):
        assert typed not in body and typed not in str(msg)
    assert "victim@example.org (daily)" in body and "/confirm/" in body


def test_expired_forged_and_cross_purpose_confirm_links_are_4xx(library: Path) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            _form(client, email="ada@example.org")
            url = link_in(mail.messages_to("ada@example.org")[0], "/confirm/")
            signup = 1
            old = make_token(SECRET, "confirm", signup, 0, issued=int(time.time()) - 49 * 3600)
            expired = client.get(f"/confirm/{old}")
            assert expired.status_code == 410 and "expired" in expired.text
            wrong = make_token(SECRET, "unsubscribe", signup, 0)
            assert client.get(f"/confirm/{wrong}").status_code == 400
            forged = url.rsplit("/", 1)[1][:-2] + "xx"
            assert client.get(f"/confirm/{forged}").status_code == 400
            page = client.get(url)
            with site.client() as other:
                no_csrf = other.post(url, data={"confirm": "1"})
            assert no_csrf.status_code == 403
            assert client.get("/no/such/page").status_code == 404
            assert client.delete("/subscribe").status_code == 405
            assert "Confirm subscription" in page.text
    assert list_subscribers(open_db(library)) == []


def test_too_many_sign_ups_from_one_client_get_429(library: Path) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            codes = [_form(client, email=f"r{n}@example.org").status_code for n in range(11)]
            assert codes == [200] * 10 + [429]
            assert len(mail.received) == 10


@pytest.mark.parametrize("fault", ["temporary_data", "drop_data"])
def test_a_failing_mail_server_is_a_503_not_a_traceback(library: Path, fault: str) -> None:
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        setattr(mail.faults, fault, 1)
        with running_web(settings) as site, site.client() as client:
            reply = _form(client, email="ada@example.org")
            assert reply.status_code == 503
            assert "could not send the confirmation email" in reply.text


def test_status_shows_sign_ups_waiting_for_confirmation(library: Path, invoke) -> None:  # noqa: ANN001
    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            _form(client, email="ada@example.org")
            _form(client, email="bob@example.org")
    out = invoke("--db", str(library), "status").stdout
    assert "2 web sign-ups waiting for confirmation" in out


def test_two_clicks_at_once_confirm_once(library: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with smtp_server() as mail:
        settings = _smtp_settings(library, mail.port)
        with running_web(settings) as site, site.client() as client:
            _form(client, email="ada@example.org")
            url = link_in(mail.messages_to("ada@example.org")[0], "/confirm/")
            csrf = csrf_of(client.get(url).text)
            cookies = dict(client.cookies)

            def click(_: int) -> int:
                with site.client(cookies=cookies) as tab:
                    return tab.post(url, data={"csrf": csrf}).status_code

            with ThreadPoolExecutor(8) as pool:
                codes = sorted(pool.map(click, range(8)))
    assert codes == [200] + [410] * 7
    assert len(list_subscribers(open_db(library))) == 1

"""A reader serves themselves in a real browser (Debian's Chromium through
Playwright) at phone width, against the running web application on 127.0.0.1
and a real SMTP server: subscribe, confirm from the emailed link, get the next
digest, change topics on the manage page, then leave the way a mail provider
does (RFC 8058 one-click POST) and check the next send skips them.

Screenshots land in the test's folder; with SCREENSHOTS_DIR=DIR they
are also copied there (how docs/web-subscribe.png and docs/web-archive.png
are made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import mail_support
import pytest
from browser_support import CHROMIUM, require_chromium
from mail_support import settings_for
from smtp_server import smtp_server
from test_email_browser import AUDIT
from web_support import SECRET, link_in, running_web

from digest.mail.delivery import send_digests
from digest.store import open_db
from digest.store.subscribers import get_subscriber

pytestmark = pytest.mark.slow
library_template, library = mail_support.library_template, mail_support.library
PHONE = {"width": 390, "height": 844}


def _check_layout(tab) -> None:  # noqa: ANN001
    """No sideways scrolling and every text at WCAG AA contrast."""
    report = tab.evaluate(AUDIT, [])
    assert report["scroll"] <= report["vw"], report
    assert report["low"] == [], report["low"]


def _shot(tab, folder: Path, name: str) -> None:  # noqa: ANN001
    path = folder / name
    tab.evaluate("window.scrollTo(0, 0)")
    tab.screenshot(path=str(path))
    docs = os.environ.get("SCREENSHOTS_DIR")
    if docs:
        shutil.copyfile(path, Path(docs) / name)


def test_a_reader_subscribes_confirms_manages_and_leaves_in_a_browser(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DIGEST_WEB_SECRET", SECRET)  # `send` signs the links in emails
    with smtp_server() as mail:
        settings = settings_for(library, backend="smtp", smtp_host="127.0.0.1", smtp_port=mail.port)
        settings.email.security = "none"
        with running_web(settings) as site, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            tab = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()

            tab.goto(f"{site.url}/subscribe")
            tab.fill("#email", "ada@example.org")
            tab.fill("#name", "Ada")
            tab.check("input[name=tags][value=llm]")
            tab.check("input[name=tags][value=reasoning]")
            tab.fill("#keywords", "agents")
            tab.check("input[name=frequency][value=daily]")
            tab.locator("#email").blur()
            _check_layout(tab)
            _shot(tab, tmp_path, "web-subscribe.png")
            tab.click("button[type=submit]")
            assert tab.locator("h1").inner_text() == "Check your inbox"
            assert open_db(library).execute("SELECT COUNT(*) FROM subscribers").fetchone()[0] == 0

            (confirm,) = mail.messages_to("ada@example.org")
            tab.goto(link_in(confirm, "/confirm/"))
            tab.click("text=Confirm subscription")
            assert tab.locator("h1").inner_text() == "You are subscribed"
            sub = get_subscriber(open_db(library), "ada@example.org")
            assert sub.active and sub.tags == ("llm", "reasoning") and sub.keywords == ("agents",)

            db = open_db(library)
            assert send_digests(db, settings).sent == 1
            digest = mail.messages_to("ada@example.org")[-1]
            assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            one_click = digest["List-Unsubscribe"].strip("<>")
            tab.goto(link_in(digest, "/m/"))
            _check_layout(tab)
            tab.uncheck("input[name=tags][value=reasoning]")
            tab.check("input[name=tags][value=diffusion]")
            tab.click("button[value=save]")
            assert tab.locator(".ok").inner_text() == "Saved."
            assert get_subscriber(db, "ada@example.org").tags == ("llm", "diffusion")

            tab.goto(f"{site.url}/")
            _check_layout(tab)
            _shot(tab, tmp_path, "web-archive.png")
            browser.close()

            # What Gmail does: a POST with no cookie and the RFC's body.
            reply = httpx.post(
                one_click,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert reply.status_code == 200
        assert get_subscriber(db, "ada@example.org").active is False
        before = len(mail.received)
        report = send_digests(db, settings, force=True)
        assert report.outcomes == [] and len(mail.received) == before

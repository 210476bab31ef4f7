"""What a reader does with the ranked email, in a real browser (Chromium from
Debian, driven by Playwright): reads the reason line beside each paper, taps
"More like this", confirms on the page it opens, and undoes it."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import mail_support
import pytest
from browser_support import CHROMIUM, require_chromium
from mail_support import body, settings_for
from test_email_browser import AUDIT
from web_support import SECRET, running_web

from digest.mail.delivery import send_digests
from digest.store import open_db
from digest.store.feedback import votes
from digest.store.subscribers import get_subscriber, save_subscriber
from digest.subscriptions import make_subscriber

pytestmark = pytest.mark.slow
library_template, library = mail_support.library_template, mail_support.library


def _votes(db_path: Path) -> list[tuple[int, int]]:
    db = open_db(db_path)
    return [(v.paper_id, v.vote) for v in votes(db, get_subscriber(db, "ada@example.org").id)]


def test_a_reader_reads_why_taps_more_like_this_confirms_and_undoes(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DIGEST_WEB_SECRET", SECRET)
    db = open_db(library)
    save_subscriber(
        db,
        make_subscriber(
            "ada@example.org", vocabulary=[], max_papers=3, interests="reinforcement learning"
        ),
    )
    settings = settings_for(library, outbox_dir=str(tmp_path / "out"))
    with running_web(settings) as site, sync_playwright() as pw:
        assert send_digests(db, settings).sent == 1
        (eml,) = sorted((tmp_path / "out").glob("*.eml"))
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        html = body(msg, "html")
        titles = re.findall(r"^\d+\. (.+)$", body(msg, "plain"), re.MULTILINE)
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        tab = browser.new_context(viewport={"width": 360, "height": 900}).new_page()
        tab.set_content(html)
        report = tab.evaluate(AUDIT, titles)
        tab.screenshot(path=str(tmp_path / "ranked-email-360.png"), full_page=True)
        assert report["scroll"] <= report["vw"] and report["hidden"] == []
        assert report["small"] == [] and report["low"] == [] and report["taps"] == []
        why = tab.locator("p.why")
        assert why.count() == 3
        assert why.first.inner_text() == "matches your interest in “reinforcement learning”"

        tab.get_by_role("link", name="More like this").first.click()
        tab.wait_for_url(site.url + "/v/*")
        assert tab.get_by_role("heading").inner_text() == "More papers like this?"
        assert _votes(library) == []  # opening the link decided nothing
        tab.get_by_role("button", name="More like this").click()
        tab.get_by_role("heading", name="Thanks: noted").wait_for()
        assert "will come first in your next emails" in tab.content()
        tab.screenshot(path=str(tmp_path / "vote-done-360.png"), full_page=True)
        assert [v for _, v in _votes(library)] == [1]
        tab.get_by_role("button", name="Undo").click()
        tab.get_by_role("heading", name="Vote undone").wait_for()
        assert _votes(library) == []
        browser.close()

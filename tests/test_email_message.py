"""The email itself: headers, both parts, escaping, notes and links."""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, datetime
from pathlib import Path

import mail_support
import pytest
from mail_support import body, expected_ids, listed_titles, settings_for, titles_of

from digest.config import Settings
from digest.delivery import preview_email, send_digests
from digest.errors import ConfigError, MailError
from digest.mail import build_message, paper_link, render_email
from digest.models import Subscriber
from digest.store import open_db
from digest.store.subscribers import make_subscriber, save_subscriber

NASTY = {
    "id": 1,
    "title": '<script>alert("t")</script> **Bold** [x](javascript:alert(1)) & co',
    "abstract": "A.",
    "url": "javascript:alert(1)",
    "arxiv_id": None,
    "authors": ["<b>Eve</b>", "Bob"],
    "upvotes": 3,
    "tags": ["llm"],
    "tldr": "<img src=x onerror=alert(1)> TL;DR with `code` and # heading",
    "summary": "<iframe src='https://evil.example'></iframe> Summary [link](https://evil.example)",
    "backend": "openai",
    "model": "m",
    "fallback_from": None,
    "summary_error": None,
}

# Fixtures: a private, summarised copy of the first seed dump per test.
library_template, library = mail_support.library_template, mail_support.library


def _reader(**extra: object) -> Subscriber:
    return Subscriber(email="ada@example.org", name="Ada Lovelace", id=1, **extra)


def _message(settings: Settings, papers: list[dict], **extra: object):  # noqa: ANN202
    rendered = render_email(settings, _reader(**extra), papers, "2026-11-21")
    msg = build_message(
        settings,
        _reader(**extra),
        rendered,
        message_id="<abc.1@example.org>",
        when=datetime(2026, 11, 21, 7, 0, 5, tzinfo=UTC),
    )
    return email.message_from_bytes(
        msg.as_bytes(policy=email.policy.SMTP), policy=email.policy.default
    )


def test_headers_and_both_parts(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "x.db", list_unsubscribe="mailto:leave@example.org")
    settings.digest.title = "ML papers"
    msg = _message(settings, [NASTY, {**NASTY, "id": 2, "title": "Second"}])
    assert msg["From"] == "Paper digest <digest@example.org>"
    assert msg["To"] == "Ada Lovelace <ada@example.org>"
    assert msg["Subject"] == "ML papers — 2026-11-21 (2 papers)"
    assert msg["Date"] == "Sat, 21 Nov 2026 07:00:05 +0000"
    assert msg["Message-ID"] == "<abc.1@example.org>"
    assert msg["List-Unsubscribe"] == "<mailto:leave@example.org>"
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = body(msg, "plain")
    assert "ML papers — Saturday, 21 November 2026" in text
    assert listed_titles(msg) == [" ".join(NASTY["title"].split()), "Second"]
    assert "Unsubscribe: mailto:leave@example.org" in text


def test_all_paper_text_is_escaped_and_only_http_links_survive(tmp_path: Path) -> None:
    page = body(_message(settings_for(tmp_path / "x.db"), [NASTY]), "html")
    assert "<script" not in page and "<iframe" not in page and "<img" not in page
    assert "<b>Eve</b>" not in page
    assert html.escape('<script>alert("t")</script>', quote=False) in page.replace("&#34;", '"')
    assert "&lt;iframe" in page and "&lt;img src=x" in page and "&lt;b&gt;Eve&lt;/b&gt;" in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("https://huggingface.co/papers?q=") for h in hrefs)
    assert "javascript:" not in "".join(hrefs)
    assert "**Bold**" in page  # Markdown stays literal text


def test_css_is_inlined_and_there_are_no_scripts_or_images(tmp_path: Path) -> None:
    page = body(_message(settings_for(tmp_path / "x.db"), [NASTY]), "html")
    assert "<style" not in page and "<script" not in page and "<img" not in page
    assert re.search(r'<table[^>]*class="card"[^>]*style="[^"]*width: 600px', page)
    assert 'width="600"' in page


@pytest.mark.parametrize(
    ("paper", "url", "label"),
    [
        (
            {"url": "https://example.org/p", "arxiv_id": "2401.1"},
            "https://example.org/p",
            "Read the abstract",
        ),
        (
            {"url": None, "arxiv_id": "2401.01234"},
            "https://arxiv.org/abs/2401.01234",
            "Read the abstract on arXiv",
        ),
        (
            {"url": "javascript:alert(1)", "arxiv_id": None},
            "https://huggingface.co/papers?q=A+%26+B%3F",
            "Find it on Hugging Face",
        ),
    ],
)
def test_paper_links_prefer_url_then_arxiv_then_a_search(paper: dict, url: str, label: str) -> None:
    assert paper_link({"title": "A  & B?", **paper}) == (url, label)


def test_offline_and_fallback_summaries_are_labelled(tmp_path: Path) -> None:
    papers = [
        {**NASTY, "title": "Offline one", "backend": "offline"},
        {**NASTY, "title": "Fell back", "backend": "offline", "fallback_from": "openai/gpt-x"},
        {**NASTY, "title": "Model one"},
    ]
    msg = _message(settings_for(tmp_path / "x.db"), papers)
    text = body(msg, "plain")
    chunks = re.split(r"^\d+\. ", text, flags=re.MULTILINE)[1:]
    assert "(Extractive summary: sentences picked from the abstract.)" in chunks[0]
    assert "Offline summary: the model (openai/gpt-x) failed" in chunks[1]
    assert "summary" not in chunks[2].split("TL;DR")[0] and "picked" not in chunks[2]
    page = body(msg, "html")
    assert page.count("Extractive summary") == 1 and page.count("Offline summary") == 1


def test_footer_explains_how_to_unsubscribe_without_a_configured_target(tmp_path: Path) -> None:
    msg = _message(settings_for(tmp_path / "x.db"), [NASTY], tags=("llm",))
    assert msg["List-Unsubscribe"] is None
    text = body(msg, "plain")
    assert "because ada@example.org is subscribed to the Trending papers digest" in text
    assert "(papers tagged llm)" in text
    assert "digest unsubscribe ada@example.org" in text


def test_list_unsubscribe_url_gets_the_readers_address(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path / "x.db", list_unsubscribe="https://example.org/leave?who={email}"
    )
    msg = _message(settings, [NASTY])
    assert msg["List-Unsubscribe"] == "<https://example.org/leave?who=ada@example.org>"


@pytest.mark.parametrize("target", ["javascript:alert(1)", "leave@example.org", "mailto:<x>"])
def test_a_bad_list_unsubscribe_is_a_config_error(tmp_path: Path, target: str) -> None:
    with pytest.raises(ConfigError, match="list_unsubscribe"):
        _message(settings_for(tmp_path / "x.db", list_unsubscribe=target), [NASTY])


def test_a_bad_from_address_is_a_config_error(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "x.db", from_="digest")
    with pytest.raises(ConfigError, match=r"\[email\] from = 'digest' is not an address"):
        _message(settings, [NASTY])


def test_preview_is_exactly_what_is_sent(library: Path, tmp_path: Path) -> None:
    db = open_db(library)
    settings = settings_for(library, outbox_dir=str(tmp_path / "outbox"))
    save_subscriber(
        db,
        make_subscriber(
            "ada@example.org", vocabulary=settings.vocabulary, tags=["vae"], max_papers=3
        ),
    )
    page = preview_email(db, settings, "ada@example.org", "html")
    text = preview_email(db, settings, "ada@example.org", "txt")
    report = send_digests(db, settings)
    assert report.sent == 1
    eml = next((tmp_path / "outbox").glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert body(msg, "html") == page
    assert body(msg, "plain") == text
    assert listed_titles(msg) == titles_of(library, expected_ids(library, tags=("vae",), cap=3))
    first = expected_ids(library, tags=("vae",), cap=3)
    after = preview_email(db, settings, "ada@example.org", "txt")
    assert listed_titles(
        email.message_from_string(
            f"Content-Type: text/plain\n\n{after}", policy=email.policy.default
        )
    ) == titles_of(library, expected_ids(library, tags=("vae",), skip=set(first), cap=3))


def test_preview_says_why_nobody_would_get_an_email(library: Path) -> None:
    db = open_db(library)
    settings = settings_for(library)
    save_subscriber(
        db,
        make_subscriber(
            "ada@example.org", vocabulary=settings.vocabulary, keywords=["zzzznothing"]
        ),
    )
    with pytest.raises(MailError) as caught:
        preview_email(db, settings, "ada@example.org", "html")
    assert str(caught.value) == (
        "ada@example.org would get no email now: all 52 new papers filtered out by"
        " tags/keywords ([digest] send_empty = true sends one anyway)"
    )
    settings.digest.send_empty = True
    assert "No new papers today." in preview_email(db, settings, "ada@example.org", "txt")


def test_arxiv_code_and_project_links_are_added_when_known(tmp_path: Path) -> None:
    paper = {
        **NASTY,
        "url": "https://huggingface.co/papers/2401.01234",
        "arxiv_id": "2401.01234",
        "github_repo": "https://github.com/x/y",
        "project_page": "javascript:alert(1)",
    }
    msg = _message(settings_for(tmp_path / "x.db"), [paper])
    text = body(msg, "plain")
    assert "   Read the abstract: https://huggingface.co/papers/2401.01234\n" in text
    assert "   arXiv: https://arxiv.org/abs/2401.01234\n   Code: https://github.com/x/y\n" in text
    assert "Project page" not in text and "Project page" not in body(msg, "html")
    hrefs = re.findall(r'href="([^"]*)"', body(msg, "html"))
    assert hrefs == ["https://huggingface.co/papers/2401.01234"] * 2 + [
        "https://arxiv.org/abs/2401.01234",
        "https://github.com/x/y",
    ]

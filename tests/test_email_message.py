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

from digest.config import EmailConfig, Settings, load_settings
from digest.errors import ConfigError, MailError
from digest.mail.compose import build_message, render_email
from digest.mail.delivery import preview_email, send_digests
from digest.models import Subscriber
from digest.render.view import paper_links
from digest.store import open_db
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber

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
    hrefs = [h for h in re.findall(r'href="([^"]*)"', page) if not h.startswith("#p")]
    assert hrefs and all(h.startswith("https://huggingface.co/papers?q=") for h in hrefs)
    assert "javascript:" not in "".join(hrefs)
    assert "**Bold**" in page  # Markdown stays literal text


def test_css_is_inlined_and_only_media_rules_stay_in_style(tmp_path: Path) -> None:
    page = body(_message(settings_for(tmp_path / "x.db"), [NASTY]), "html")
    assert "<script" not in page and "<img" not in page
    styles = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    assert len(styles) == 1 and styles[0].lstrip().startswith("@media")
    assert "prefers-color-scheme:dark" in styles[0].replace(" ", "")
    outside = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", styles[0])
    assert not outside.strip(), outside  # nothing but @media blocks
    card = re.search(r'<table[^>]*class="card"[^>]*style="([^"]*)"', page)
    assert card and "max-width:600px" in card.group(1) and "width:100%" in card.group(1)
    assert 'width="600"' not in page.split("<!--[if mso]>")[0]  # fluid outside Outlook


@pytest.mark.parametrize(
    ("paper", "links"),
    [
        (
            {"url": "https://example.org/p", "arxiv_id": "2401.01234"},
            [
                ("Hugging Face", "https://hf.example/papers/2401.01234"),
                ("arXiv", "https://arxiv.org/abs/2401.01234"),
                ("PDF", "https://arxiv.org/pdf/2401.01234"),
            ],
        ),
        (
            {"url": "https://huggingface.co/papers/x", "arxiv_id": None},
            [("Abstract", "https://hf.example/papers/x")],
        ),
        (
            {"url": "https://example.org/p", "arxiv_id": None, "github_repo": "https://g.h/x"},
            [("Abstract", "https://example.org/p"), ("Code", "https://g.h/x")],
        ),
        (
            {"url": "javascript:alert(1)", "arxiv_id": "../x y"},
            [("Find it on Hugging Face", "https://hf.example/papers?q=A+%26+B%3F")],
        ),
    ],
)
def test_reader_links_come_from_the_public_hf_url(paper: dict, links: list) -> None:
    assert paper_links({"title": "A  & B?", **paper}, "https://hf.example/") == links


def test_a_fetching_mirror_never_reaches_readers(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "x.db")
    settings.sources.hf_base_url = "https://mirror.internal.example"
    msg = _message(settings, [NASTY, {**NASTY, "id": 2, "arxiv_id": "2401.01234"}])
    for kind in ("plain", "html"):
        part = body(msg, kind)
        assert "mirror.internal" not in part
        assert "https://huggingface.co/papers/2401.01234" in part


def test_every_summary_says_who_wrote_it_and_operator_errors_stay_out(tmp_path: Path) -> None:
    papers = [
        {**NASTY, "title": "Offline one", "backend": "offline"},
        {
            **NASTY,
            "title": "Fell back",
            "backend": "offline",
            "fallback_from": "openai:gpt-x",
            "summary_error": "No API key: set OPENAI_API_KEY",
        },
        {**NASTY, "title": "Model one", "model": "gpt-4o-mini"},
    ]
    msg = _message(settings_for(tmp_path / "x.db"), papers)
    text = body(msg, "plain")
    chunks = re.split(r"^\d+\. ", text, flags=re.MULTILINE)[1:]
    assert "(Extract from the abstract)" in chunks[0]
    assert "(Extract from the abstract)" in chunks[1]
    assert "(Summary by gpt-4o-mini)" in chunks[2]
    page = body(msg, "html")
    assert page.count("Extract from the abstract") == 2
    assert page.count("Summary by gpt-4o-mini") == 1
    banner = "1 of today's summaries are extracts from the abstracts"
    for part in (" ".join(text.split()), page):
        assert part.count(banner) == 1
        assert "API key" not in part and "OPENAI" not in part and "openai" not in part


def test_one_banner_when_the_model_failed_for_every_paper(tmp_path: Path) -> None:
    failed = {**NASTY, "backend": "offline", "fallback_from": "openai:gpt-x"}
    msg = _message(settings_for(tmp_path / "x.db"), [failed, {**failed, "id": 2}])
    banner = "Today's summaries are extracts from the abstracts: the summarising model was"
    assert " ".join(body(msg, "plain").split()).count(banner) == 1
    assert body(msg, "html").count(banner) == 1
    assert "Summary by" not in body(msg, "html")


def test_the_greeting_uses_the_name_and_weekly_emails_say_so(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "x.db")
    msg = _message(settings, [NASTY])
    assert "Hi Ada Lovelace, here are today's papers." in body(msg, "plain")
    assert "Hi Ada Lovelace, here are today's papers." in body(msg, "html")
    weekly = _message(settings, [NASTY], frequency="weekly", weekday="sat")
    assert weekly["Subject"] == "Trending papers — week to 2026-11-21 (1 paper)"
    assert "Weekly papers digest" in body(weekly, "html")
    assert "this week's papers" in body(weekly, "plain")
    anonymous = Subscriber(email="x@example.org", id=2)
    nameless = render_email(settings, anonymous, [NASTY], "2026-11-21")
    assert "Hi " not in nameless.text and "Hi " not in nameless.html


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
    (tmp_path / "d.toml").write_text(f"[email]\nlist_unsubscribe = {target!r}\n", "utf-8")
    with pytest.raises(ConfigError, match=r"d.toml:2: \[email\] list_unsubscribe = "):
        load_settings(str(tmp_path / "d.toml"), env={})  # found when loaded, before any message


def test_a_bad_from_address_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[email\] from = 'digest' is not an address"):
        EmailConfig(from_="digest")


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


def test_arxiv_pdf_code_and_project_links_are_added_when_known(tmp_path: Path) -> None:
    paper = {
        **NASTY,
        "url": "https://huggingface.co/papers/2401.01234",
        "arxiv_id": "2401.01234",
        "github_repo": "https://github.com/x/y",
        "project_page": "javascript:alert(1)",
    }
    msg = _message(settings_for(tmp_path / "x.db"), [paper])
    text = body(msg, "plain")
    assert (
        "   Hugging Face: https://huggingface.co/papers/2401.01234\n"
        "   arXiv: https://arxiv.org/abs/2401.01234\n"
        "   PDF: https://arxiv.org/pdf/2401.01234\n"
        "   Code: https://github.com/x/y\n"
    ) in text
    assert "Project page" not in text and "Project page" not in body(msg, "html")
    hrefs = re.findall(r'href="([^"]*)"', body(msg, "html"))
    assert hrefs == ["https://huggingface.co/papers/2401.01234"] * 2 + [
        "https://arxiv.org/abs/2401.01234",
        "https://arxiv.org/pdf/2401.01234",
        "https://github.com/x/y",
    ]

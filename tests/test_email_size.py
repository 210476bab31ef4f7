"""The email is never clipped: Gmail hides everything past ~102 KB of HTML,
the unsubscribe footer included, so the HTML stays well under it."""

from __future__ import annotations

import re

import pytest
from email_papers import FIRST_DUMP, build_library, mixed

from digest.config import Settings
from digest.mail.compose import FULL_PAPERS, HTML_BUDGET, render_email
from digest.models import Subscriber

READER = Subscriber(email="ada@example.org", name="Ada", id=1)


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """93 papers: 41 from two recorded Hugging Face days (authors, upvotes,
    arXiv, code and project links) among the first seed dump's 52."""
    path = build_library(tmp_path_factory.mktemp("size") / "digest.db", FIRST_DUMP)
    return mixed(path, 93)


def test_fifty_papers_with_live_metadata_stay_under_90_kb(papers: list[dict]) -> None:
    email = render_email(Settings(), READER, papers[:50], "2026-12-01")
    assert email.papers == 50 and "more paper" not in email.html
    assert email.size < 90_000, email.size
    assert sum(1 for p in papers[:50] if p["github_repo"]) >= 5  # the heavy kind is in
    full = re.findall(r'<td class="p" id="p\d+"', email.html)
    compact = re.findall(r'<td class="c" id="p\d+"', email.html)
    assert (len(full), len(compact)) == (FULL_PAPERS, 50 - FULL_PAPERS)


def test_a_cap_that_would_clip_shows_what_fits_and_links_the_rest(papers: list[dict]) -> None:
    settings = Settings()
    settings.digest.public_url = "https://papers.example.org/"
    email = render_email(settings, READER, papers, "2026-12-01", budget=60_000)
    assert 40 <= email.papers < 93 and email.size <= 60_000
    left = 93 - email.papers
    assert f"And {left} more papers, left out to keep this email short" in email.text
    assert re.search(rf'And {left} more papers.*href="https://papers.example.org/"', email.html)
    shown = re.findall(r"^(\d+)\. ", email.text, re.MULTILINE)
    assert shown == [str(n) for n in range(1, email.papers + 1)]  # both parts agree
    assert email.html.count('id="p') == email.papers
    assert "You get this email because" in email.html  # the footer is never the part cut


def test_the_default_budget_keeps_any_cap_under_the_clipping_point(papers: list[dict]) -> None:
    email = render_email(Settings(), READER, papers * 2, "2026-12-01")
    assert email.size <= HTML_BUDGET < 102_000
    assert "more papers, left out" in email.text and "public_url" not in email.html

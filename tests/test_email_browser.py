"""The email as a reader sees it: rendered by a real browser (Chromium from
Debian, driven by Playwright) at phone, small-window and desktop widths, in
light and dark mode, and with its <style> block stripped as some mail
clients do. One browser for the module; each check is one page.

Screenshots land in the test's temporary folder (`pytest --basetemp=DIR`
keeps them where a person can look).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_support import CHROMIUM, require_chromium
from email_papers import FIRST_DUMP, build_library, mixed

from digest.config import Settings
from digest.mail.compose import RenderedEmail, render_email
from digest.models import Subscriber
from digest.store import open_db
from digest.store.summaries import listing

pytestmark = pytest.mark.slow
WIDTHS = (360, 600, 1024)
READER = Subscriber(email="ada@example.org", name="Ada", id=1)

# Everything a person would notice, measured in the page: sideways scrolling,
# text under 14 px, links under 44 px high, text under WCAG AA contrast (4.5:1,
# against the first opaque background behind it), titles off screen.
AUDIT = """
(titles) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  const vw = document.documentElement.clientWidth;
  const out = {scroll: document.documentElement.scrollWidth, vw, hidden: []};
  Object.assign(out, {small: [], low: [], taps: []});
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !shown(el)) continue;
    const style = getComputedStyle(el);
    const text = el.textContent.trim().slice(0, 40);
    if (parseFloat(style.fontSize) < 14) out.small.push(`${style.fontSize} ${text}`);
    const [a, b] = [lum(rgb(style.color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.low.push(`${ratio.toFixed(2)} ${style.color} ${text}`);
  }
  for (const a of document.querySelectorAll("a[href]")) {
    const r = a.getBoundingClientRect();
    if (r.height < 44) out.taps.push(`${r.height} ${a.textContent.trim().slice(0, 40)}`);
  }
  for (const title of titles) {
    const links = [...document.querySelectorAll("td[id^=p] a")];
    const link = links.find((a) => a.textContent.includes(title));
    const r = link && link.getBoundingClientRect();
    if (!r || r.width === 0 || r.left < 0 || r.right > vw) out.hidden.push(title);
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def emails(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedEmail]:
    """The quick-start email (25 dump papers, offline summaries) and a harder one:
    live-source papers among dump papers, a failed model (banner), manage and
    unsubscribe links, and more papers than fit (the "and N more" link)."""
    path = build_library(tmp_path_factory.mktemp("browser") / "digest.db", FIRST_DUMP)
    settings = Settings()
    dumps = [p for p in listing(open_db(path)) if not p["arxiv_id"]][:25]
    quick = render_email(settings, READER, dumps, "2026-12-01")
    papers = mixed(path, 40)
    for p in papers[1::4]:
        p.update(fallback_from="openai:gpt-4o-mini", backend="offline")
    for p in papers[2::4]:
        p.update(backend="openai", model="gpt-4o-mini")
    settings.digest.public_url = "https://papers.example.org/"
    settings.web.public_url = "https://papers.example.org"  # manage + unsubscribe links
    with pytest.MonkeyPatch.context() as env:
        env.setenv(settings.web.secret_env, "k" * 40)
        live = render_email(settings, READER, papers, "2026-12-01", budget=45_000)
    assert live.papers < 40 and "more papers, left out" in live.html
    assert "Manage your subscription" in live.html
    return {"quick-start": quick, "live": live}


def _titles(email: RenderedEmail) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^(\d+)\. (.+)$", email.text, re.MULTILINE)]


def _audit(browser: Any, html: str, width: int, titles: list[str], shot: Path, **page: Any):  # noqa: ANN202
    context = browser.new_context(viewport={"width": width, "height": 900}, **page)
    try:
        tab = context.new_page()
        tab.set_content(html)
        report = tab.evaluate(AUDIT, titles)
        tab.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    return report


def _assert_readable(report: dict[str, Any], titles: list[str]) -> None:
    assert report["scroll"] <= report["vw"], "the page scrolls sideways"
    assert report["small"] == [], "text under 14 px"
    assert report["low"] == [], "text under 4.5:1 contrast"
    assert report["taps"] == [], "links under 44 px high"
    assert report["hidden"] == [], "titles not on screen"
    assert len(titles) >= 25


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["quick-start", "live"])
def test_the_email_fits_and_reads_well_at_every_width(
    browser: Any, emails: dict, name: str, width: int, tmp_path: Path
) -> None:
    email = emails[name]
    titles = _titles(email)
    report = _audit(browser, email.html, width, titles, tmp_path / f"{name}-{width}.png")
    _assert_readable(report, titles)


@pytest.mark.parametrize("name", ["quick-start", "live"])
def test_dark_mode_keeps_every_text_readable(
    browser: Any, emails: dict, name: str, tmp_path: Path
) -> None:
    email = emails[name]
    titles = _titles(email)
    report = _audit(
        browser, email.html, 360, titles, tmp_path / f"{name}-dark.png", color_scheme="dark"
    )
    _assert_readable(report, titles)


@pytest.mark.parametrize("width", (360, 1024))
def test_clients_that_strip_style_still_get_a_readable_fluid_email(
    browser: Any, emails: dict, width: int, tmp_path: Path
) -> None:
    email = emails["live"]
    stripped = re.sub(r"<style>.*?</style>", "", email.html, flags=re.DOTALL)
    assert "<style" not in stripped and "@media" not in stripped
    titles = _titles(email)
    report = _audit(browser, stripped, width, titles, tmp_path / f"stripped-{width}.png")
    _assert_readable(report, titles)

"""Take the README's pictures of the email: the one the quick start really produces.

    python docs/email_screenshots.py

Runs the README quick start (`digest subscribe you@example.org && digest run
examples/dumps`) in a temporary folder, opens the HTML it wrote to the outbox
in Debian's Chromium (through Playwright; `apt-get install chromium`) and
saves docs/email-desktop.png (1024 px wide: the top 1,900 px, the header,
the table of contents and the first paper) and docs/email-phone.png (a 390 px
wide phone at 2x, one screen from the first paper on).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = {
    "email-desktop.png": {"viewport": {"width": 1024, "height": 1900}},
    "email-phone.png": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}


def quick_start_email(folder: Path) -> Path:
    """The HTML of the email the README's quick start writes to outbox/."""
    digest = [sys.executable, "-m", "digest"]
    for args in (["subscribe", "you@example.org"], ["run", str(REPO / "examples" / "dumps")]):
        subprocess.run([*digest, *args], cwd=folder, check=True, stdout=subprocess.DEVNULL)
    (html,) = (folder / "outbox").glob("*.html")
    return html


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="digest-shots-") as tmp:
        html = quick_start_email(Path(tmp))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            for name, options in SHOTS.items():
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto(html.as_uri())
                if options.get("is_mobile"):
                    page.evaluate("document.getElementById('p1').scrollIntoView()")
                page.screenshot(path=str(DOCS / name))
                context.close()
                width = options["viewport"]["width"]
                print(f"wrote docs/{name} ({width} px wide, {html.stat().st_size:,} B of HTML)")
            browser.close()


if __name__ == "__main__":
    main()

"""The real browser for tests of what a person looks at: Debian's Chromium driven
by Playwright (never a browser download of Playwright's own)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> None:
    """Skip without Chromium on a developer's machine; fail under CI (.ci/run installs it)."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")

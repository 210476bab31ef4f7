"""Files that ship with the package: templates, prompts, the default tags.

In a wheel they sit inside the package (digest/templates, digest/prompts);
in a source checkout they are the top-level templates/ and prompts/ folders.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder of shipped `templates` or `prompts`."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir() and any(candidate.glob("*.j2")):
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from this installation")


@cache
def _taxonomy() -> dict[str, str]:
    data = tomllib.loads((_PACKAGE / "taxonomy.toml").read_text(encoding="utf-8"))
    return dict(data["tags"])


def default_vocabulary() -> dict[str, str]:
    """The built-in tag vocabulary (name -> meaning), a fresh copy each call."""
    return dict(_taxonomy())

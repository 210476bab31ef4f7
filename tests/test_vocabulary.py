"""The default tag vocabulary is written in three places; they must agree.

`digest/taxonomy.toml` is what the program loads when the config names no tags,
`config.example.toml` is what operators copy, and the offline backend's keyword
tables decide which tags the extractive summariser can give. A tag added to one
and forgotten in another would silently never be given, or be given and rejected.
"""

import tomllib
from pathlib import Path

from digest.backends.offline_rules import KEYWORDS

ROOT = Path(__file__).resolve().parent.parent


def _tags(path: Path) -> dict[str, str]:
    return tomllib.loads(path.read_text(encoding="utf-8"))["tags"]


def test_example_config_ships_the_packaged_vocabulary() -> None:
    packaged = _tags(ROOT / "digest" / "taxonomy.toml")
    example = _tags(ROOT / "config.example.toml")
    assert example == packaged


def test_offline_keyword_tables_cover_exactly_the_default_vocabulary() -> None:
    packaged = _tags(ROOT / "digest" / "taxonomy.toml")
    assert set(KEYWORDS) == set(packaged)

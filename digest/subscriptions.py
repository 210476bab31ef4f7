"""What a subscription may be: an address, filters, limits and ranking settings,
checked before anything is stored, whether they come from `digest subscribe`, the
web forms or the config's [[subscribers]]. DigestError (ConfigError for the
config) says what to fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from digest import cadence
from digest.errors import ConfigError, DigestError
from digest.identity import normalize_email
from digest.models import Subscriber

if TYPE_CHECKING:
    from digest.config import Settings

_CONFIG_KEYS = (
    "email",
    "name",
    "tags",
    "exclude_tags",
    "keywords",
    "max_papers",
    "active",
    "frequency",
    "weekday",
    "match",
    "interests",
    "like",
    "min_relevance",
)
_INTERESTS_MAX = 2000


def make_subscriber(
    email: str,
    *,
    vocabulary: Iterable[str],
    name: str | None = None,
    tags: Iterable[str] = (),
    exclude_tags: Iterable[str] = (),
    keywords: Iterable[str] = (),
    max_papers: int | None = None,
    active: bool = True,
    frequency: str | None = None,
    weekday: str | None = None,
    match: str | None = None,
    interests: str | None = None,
    min_relevance: float | None = None,
    paused: bool = False,
) -> Subscriber:
    """Check every field of a subscription and return it; DigestError says what to fix."""
    known = list(vocabulary)
    if name is not None:
        name = " ".join(str(name).split()) or None
        if name and (len(name) > 100 or not name.isprintable()):
            raise DigestError("a subscriber name is one line of at most 100 printable characters")
    for tag in (*tags, *exclude_tags):
        if tag not in known:
            close = difflib.get_close_matches(tag, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see [tags] in the config"
            raise DigestError(f"unknown tag {tag!r}: {hint}")
    words = [" ".join(k.split()) for k in keywords]
    for word in words:
        if not word or len(word) > 100 or not word.isprintable():
            raise DigestError(f"keyword {word!r}: give 1 to 100 printable characters")
    if max_papers is not None and (isinstance(max_papers, bool) or max_papers < 1):
        raise DigestError("max papers must be a whole number of at least 1")
    frequency = cadence.check_frequency(frequency)
    if interests is not None:
        interests = " ".join(str(interests).split()) or None
        if interests and (len(interests) > _INTERESTS_MAX or not interests.isprintable()):
            raise DigestError(
                f"interests are at most {_INTERESTS_MAX} printable characters, e.g."
                ' "text VAEs, latent variable models for language generation"'
            )
    if min_relevance is not None and (
        isinstance(min_relevance, bool) or not 0 <= float(min_relevance) <= 1
    ):
        raise DigestError("min relevance is a number from 0 to 1, e.g. 0.05")
    return Subscriber(
        interests=interests,
        min_relevance=None if min_relevance is None else float(min_relevance),
        frequency=frequency,
        weekday=cadence.check_weekday(weekday, frequency),
        match=cadence.check_match(match),
        email=normalize_email(email),
        name=name,
        tags=tuple(dict.fromkeys(tags)),
        exclude_tags=tuple(dict.fromkeys(exclude_tags)),
        keywords=tuple(dict.fromkeys(words)),
        max_papers=max_papers,
        active=active,
        paused=paused and not active,
    )


def keep_unless_given(known: Subscriber | None, given: dict[str, Any]) -> dict[str, Any]:
    """make_subscriber's arguments: the `given` ones (None or empty: not given)
    over the `known` reader's settings. A weekly day is kept only while the
    reader stays weekly."""
    if known is None:
        return given
    merged = {
        key: value if value not in (None, (), []) else getattr(known, key)
        for key, value in given.items()
        if key in _KEPT
    }
    if (
        given.get("frequency")
        and given["frequency"] != known.frequency
        and not given.get("weekday")
    ):
        merged["weekday"] = None
    return {**given, **merged}


_KEPT = (
    "name",
    "tags",
    "exclude_tags",
    "keywords",
    "max_papers",
    "frequency",
    "weekday",
    "match",
    "interests",
    "min_relevance",
)


def check_config_subscribers(settings: Settings) -> list[Subscriber]:
    """The [[subscribers]] of the config, validated (ConfigError naming the entry)."""
    path = settings.config_path or "config"
    wanted: list[Subscriber] = []
    for n, entry in enumerate(settings.subscribers, 1):
        where = settings.origins.get(f"subscribers.{n}", path)  # "digest.toml:12"
        label = f"{where}: [[subscribers]] #{n}"
        for key in entry:
            if key not in _CONFIG_KEYS:
                close = difflib.get_close_matches(key, _CONFIG_KEYS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else ", ".join(_CONFIG_KEYS)
                raise ConfigError(f"{label}: unknown key {key!r} ({hint})")
        if not isinstance(entry.get("email"), str):
            raise ConfigError(f'{label}: needs email = "address"')
        label = f"{where}: [[subscribers]] {entry['email']}"
        for key in ("tags", "exclude_tags", "keywords", "like"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f'{label}: {key} must be a list of strings, e.g. ["a", "b"]')
        if entry.get("name") is not None and not isinstance(entry["name"], str):
            raise ConfigError(f"{label}: name must be a string")
        if "max_papers" in entry and (
            not isinstance(entry["max_papers"], int) or isinstance(entry["max_papers"], bool)
        ):
            raise ConfigError(f"{label}: max_papers must be a whole number")
        if entry.get("interests") is not None and not isinstance(entry["interests"], str):
            raise ConfigError(f'{label}: interests must be a string, e.g. interests = "text VAEs"')
        relevance = entry.get("min_relevance")
        if relevance is not None and (
            not isinstance(relevance, int | float) or isinstance(relevance, bool)
        ):
            raise ConfigError(f"{label}: min_relevance must be a number from 0 to 1")
        if not isinstance(entry.get("active", True), bool):
            raise ConfigError(f"{label}: active must be true or false")
        for key in ("frequency", "weekday", "match"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise ConfigError(f'{label}: {key} must be a string, e.g. {key} = "weekly"')
        try:
            wanted.append(
                make_subscriber(
                    entry["email"],
                    vocabulary=settings.vocabulary,
                    name=entry.get("name"),
                    tags=entry.get("tags", []),
                    exclude_tags=entry.get("exclude_tags", []),
                    keywords=entry.get("keywords", []),
                    max_papers=entry.get("max_papers"),
                    active=entry.get("active", True),
                    frequency=entry.get("frequency"),
                    weekday=entry.get("weekday"),
                    match=entry.get("match"),
                    interests=entry.get("interests"),
                    min_relevance=relevance,
                )
            )
        except DigestError as exc:
            raise ConfigError(f"{label}: {exc}") from exc
    emails = [s.email for s in wanted]
    if len(set(emails)) != len(emails):
        n = next(n for n, e in enumerate(emails, 1) if e in emails[: n - 1])
        where = settings.origins.get(f"subscribers.{n}", path)
        raise ConfigError(f"{where}: {emails[n - 1]} is listed twice in [[subscribers]]: keep one")
    return wanted

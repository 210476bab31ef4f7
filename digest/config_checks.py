"""Settings checks: every value from the file, the environment or an option is
checked once, at load, so a run never finds a setting wrong half-way through.

Each message names the key and, when it did not come from the config file,
where its value came from (`key_label`).
"""

from __future__ import annotations

import ipaddress
import re
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from digest.errors import ConfigError
from digest.models import BACKENDS

if TYPE_CHECKING:
    from digest.config import Settings

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URLS = (
    ("llm", "base_url"),
    ("sources", "hf_base_url"),
    ("sources", "arxiv_base_url"),
    ("sources", "arxiv_rss_base_url"),
    ("rank", "embeddings_base_url"),
    ("digest", "hf_url"),
    ("digest", "public_url"),
    ("web", "public_url"),
)
_CHOICES = {
    ("llm", "backend"): BACKENDS,
    ("llm", "structured_output"): ("json_schema", "json_object", "none"),
    ("email", "backend"): ("smtp", "file"),
    ("email", "security"): ("starttls", "ssl", "none"),
}
_POSITIVE = {
    ("llm", "concurrency"),
    ("llm", "timeout"),
    ("llm", "max_output_tokens"),
    ("llm", "context_size"),
    ("digest", "max_papers"),
    ("digest", "max_age_days"),
    ("digest", "max_digest_papers"),
    ("sources", "catchup_days"),
    ("email", "timeout"),
    ("email", "connections"),
    ("sources", "timeout"),
    ("sources", "resolve_limit"),
}


def check_settings(settings: Settings) -> None:
    """Raise ConfigError for the first value that is wrong; normalises [web] public_url."""
    for (section, name), allowed in _CHOICES.items():
        value = getattr(getattr(settings, section), name)
        if value not in allowed:
            key = key_label(settings, section, name)
            raise ConfigError(f"{key} = {value!r} is not one of: {', '.join(allowed)}")
    for section, name in _POSITIVE:
        if getattr(getattr(settings, section), name) <= 0:
            raise ConfigError(f"{key_label(settings, section, name)} must be greater than 0")
    for section, name in (
        ("llm", "max_retries"),
        ("llm", "price_input_per_mtok"),
        ("llm", "price_output_per_mtok"),
        ("llm", "max_cost_per_run"),
        ("email", "retries"),
    ):
        value = getattr(getattr(settings, section), name)
        if value is not None and value < 0:
            raise ConfigError(f"{key_label(settings, section, name)} must be 0 or more")
    if settings.llm.requests_per_minute is not None and settings.llm.requests_per_minute <= 0:
        raise ConfigError("[llm] requests_per_minute must be greater than 0 (or left out)")
    if settings.llm.threads is not None and settings.llm.threads <= 0:
        raise ConfigError("[llm] threads must be greater than 0 (or left out: half the cores)")
    if settings.email.max_per_minute is not None and settings.email.max_per_minute <= 0:
        raise ConfigError("[email] max_per_minute must be greater than 0 (or left out)")
    if settings.llm.temperature is not None and not 0 <= settings.llm.temperature <= 2:
        raise ConfigError("[llm] temperature must be between 0 and 2")
    port = settings.email.smtp_port
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"[email] smtp_port {port} is not a port number (1-65535)")
    if not 0 < settings.web.port < 65536:
        raise ConfigError(f"{key_label(settings, 'web', 'port')} is not a port number (1-65535)")
    for section, name in (
        ("llm", "api_key_env"),
        ("email", "password_env"),
        ("web", "secret_env"),
    ):
        if not _ENV_NAME.match(getattr(getattr(settings, section), name)):
            raise ConfigError(
                f"[{section}] {name} must name an environment variable, e.g. OPENAI_API_KEY"
            )
    _check_headers(settings)
    for section, name in _URLS:
        value = getattr(getattr(settings, section), name)
        # A stray OPENAI_BASE_URL must not break commands that never call a model.
        skip = (section, name) == ("llm", "base_url") and settings.llm.backend != "openai"
        if value is not None and not skip:
            check_url(value, key_label(settings, section, name))
    public = settings.web.public_url
    if public is not None:
        parts = urlsplit(public)
        if parts.query or parts.fragment or re.search(r"[\s<>\"'`\\]", public):
            raise ConfigError(
                f"{key_label(settings, 'web', 'public_url')} {public!r} must be a plain base"
                ' address without ?query or #fragment, e.g. "https://papers.example.org"'
            )
        settings.web.public_url = public.rstrip("/")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_headers(settings: Settings) -> None:
    """Values that go into email headers, checked before anything is sent: a
    line break in a header would break every message (or inject headers)."""
    language = settings.llm.language
    if _CONTROL.search(language) or not language.strip() or len(language) > 40:
        raise ConfigError(
            f"{key_label(settings, 'llm', 'language')} must be one line of 1 to 40 characters"
            ' naming a language, e.g. "English" (it goes into the model\'s instructions)'
        )
    title = settings.digest.title
    if _CONTROL.search(title) or not title.strip() or len(title) > 150:
        raise ConfigError(
            f"{key_label(settings, 'digest', 'title')} must be one line of 1 to 150 characters"
            " (it is the email subject)"
        )
    raw = settings.email.from_
    name, addr = parseaddr(raw)
    local, _, domain = addr.partition("@")
    if (
        _CONTROL.search(raw)
        or not local
        or "." not in domain
        and domain != "localhost"
        or (not addr.isascii() or any(c in addr for c in ' <>"()[],;:'))
    ):
        raise ConfigError(
            f"{key_label(settings, 'email', 'from')} = {raw!r} is not an address:"
            ' e.g. "digest@example.org" or "Papers <digest@example.org>"'
        )
    target = settings.email.list_unsubscribe
    if target is not None:
        value = target.strip().replace("{email}", "reader@example.org")
        parts = urlsplit(value)
        ok = (
            parts.scheme.lower() == "mailto" and "@" in parts.path
            if parts.scheme.lower() == "mailto"
            else parts.scheme in ("http", "https") and bool(parts.hostname)
        )
        if not ok or re.search(r"[\s<>\"']", value) or _CONTROL.search(value):
            raise ConfigError(
                f"{key_label(settings, 'email', 'list_unsubscribe')} = {target!r} is not a mailto:"
                ' address or an http(s) URL, e.g. "mailto:digest-unsubscribe@example.org"'
            )


def key_label(settings: Settings, section: str, name: str) -> str:
    """A key's name for a message, saying where its value came from unless a file set it."""
    origin = settings.origins.get(f"{section}.{name}", "")
    outside = origin and not origin.endswith(".toml") and origin != settings.config_path
    return f"[{section}] {name}" + (f" (from {origin})" if outside else "")


def check_url(value: str, label: str) -> None:
    """An http(s) URL with a host; a dotted-number host must be a real IPv4 address."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    problem = None
    if parts.scheme not in ("http", "https") or not host:
        problem = "use http:// or https:// and a host name"
    elif re.fullmatch(r"[\d.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            problem = f"{host} is not an IPv4 address"
    if problem:
        raise ConfigError(f"{label} {value!r} is not a usable URL: {problem}")

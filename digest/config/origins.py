"""Where each setting came from, and a wrong one said in one line.

pydantic reports what is wrong as a multi-line list; a user gets one line
instead, naming the key and where its value came from: the file and line
("digest.toml:12: [llm] concurrency must be greater than 0"), the environment
variable or the option ("[llm] backend (from --backend) = 'x' is not one of: ...").
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from digest.errors import ConfigError

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]\s*(#.*)?$")
_ARRAY = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_-]+)\s*\]\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")
_TYPES = {"int_type": "int", "float_type": "float", "string_type": "str", "bool_type": "bool"}
_TOP = ("db", "tags", "subscribers")
# Keys the environment may set, and the command-line options that set keys.
ENVIRONMENT = {
    "DIGEST_DB": "db",
    "OPENAI_BASE_URL": "llm.base_url",
    "DIGEST_BACKEND": "llm.backend",
}
OPTIONS = {"db": "--db", "llm.backend": "--backend"}


def toml_lines(text: str) -> dict[str, int]:
    """The line of each `key = ...` ("llm.model", "db"), of each [table] ("llm") and of
    the n-th [[subscribers]] ("subscribers.1"), for messages. Keys written another way
    (dotted, inline tables) are simply not found: the message then names the file only."""
    lines: dict[str, int] = {}
    table, counts = "", dict[str, int]()
    quote = None  # inside a multi-line string: no keys there
    for number, line in enumerate(text.splitlines(), 1):
        if quote is not None:
            if line.count(quote) % 2:
                quote = None
            continue
        if match := _ARRAY.match(line):
            table = match.group(1)
            counts[table] = counts.get(table, 0) + 1
            lines.setdefault(f"{table}.{counts[table]}", number)
            table = f"{table}.{counts[table]}"
        elif match := _TABLE.match(line):
            table = match.group(1)
            lines.setdefault(table, number)
        elif match := _KEY.match(line):
            key = next(g for g in match.groups() if g)
            lines.setdefault(f"{table}.{key}" if table else key, number)
        for mark in ('"""', "'''"):
            if line.count(mark) % 2:
                quote = mark
    return lines


@dataclass
class Origins:
    """Which layer set each key: "digest.toml:12" for the file, else a variable or option."""

    path: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    def line_of(self, dotted: str) -> str:
        line = self.lines.get(dotted) or self.lines.get(dotted.split(".")[0])
        return f"{self.path}:{line}" if line else str(self.path)

    def set(self, dotted: str, origin: str) -> None:
        self.where[dotted] = origin

    def in_file(self, dotted: str) -> bool:
        origin = self.where.get(dotted, "")
        return bool(self.path) and (origin == self.path or origin.startswith(f"{self.path}:"))

    def name(self, dotted: str) -> str:
        """The key as the file writes it, and where its value came from if not from there."""
        table, _, key = dotted.rpartition(".")
        label = f"[{table}] {key}" if table else ("[tags]" if key == "tags" else key)
        origin = self.where.get(dotted)
        return label + (f" (from {origin})" if origin and not self.in_file(dotted) else "")

    def prefix(self, dotted: str) -> str:
        """ "digest.toml:12: " when the value came from the file."""
        return f"{self.where[dotted]}: " if self.in_file(dotted) else ""


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """`--config`, else DIGEST_CONFIG, else ./digest.toml if present, else none."""
    chosen = explicit or env.get("DIGEST_CONFIG")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"config file {chosen} not found: check --config / DIGEST_CONFIG")
        return path
    default = Path("digest.toml")
    return default if default.is_file() else None


def gather(
    config: str | None, env: Mapping[str, str], options: Mapping[str, Any], tables: list[str]
) -> tuple[dict[str, Any], Origins]:
    """Every layer laid over the one before (file < environment < options), as one raw
    mapping for the model, and where each key came from."""
    raw: dict[str, Any] = {}
    origins = Origins()
    path = find_config_file(config, env)
    if path is not None:
        origins.path = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{path}: not valid TOML ({exc}); compare with config.example.toml"
            ) from None
        origins.lines = toml_lines(text)
        for key, value in data.items():
            if key in ("config_path", "origins"):  # ours, not the file's
                raise unknown_key(key, [*tables, *_TOP], origins)
            raw[key] = value
            if isinstance(value, dict) and key in tables:
                for sub in value:
                    origins.set(f"{key}.{sub}", origins.line_of(f"{key}.{sub}"))
            else:
                origins.set(key, origins.line_of(key))
            if key == "subscribers" and isinstance(value, list):  # each entry's own line
                for n in range(1, len(value) + 1):
                    origins.set(f"subscribers.{n}", origins.line_of(f"subscribers.{n}"))
    layers = [(v, env[k], k) for k, v in ENVIRONMENT.items() if env.get(k)]
    layers += [(k, v, OPTIONS.get(k, "command line")) for k, v in options.items() if v is not None]
    for dotted, value, origin in layers:
        table, _, key = dotted.rpartition(".")
        target = raw.setdefault(table, {}) if table else raw
        if isinstance(target, dict):
            target[key] = value
        origins.set(dotted, origin)
    raw["config_path"], raw["origins"] = origins.path, dict(origins.where)
    return raw, origins


def unknown_key(key: str, known: list[str], origins: Origins, table: str = "") -> ConfigError:
    dotted = f"{table}.{key}" if table else key
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    label = f"[{table}] {key}" if table else repr(key)
    where = origins.where.get(dotted) or (origins.line_of(dotted) if origins.path else "")
    return ConfigError(f"{where + ': ' if where else ''}unknown key {label}{hint}")


def translate(
    exc: ValidationError,
    origins: Origins,
    tables: Mapping[str, type[BaseModel]],
    within: str = "",
) -> ConfigError:
    """The first problem pydantic found, as one line naming the key and its origin."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    if within:
        loc.insert(0, within)
    kind = error["type"]
    problem = (error.get("ctx") or {}).get("error")
    table = loc[0] if loc and loc[0] in tables else ""
    key = loc[1] if table and len(loc) > 1 else (loc[0] if loc and not table else "")
    if table and not key and isinstance(problem, ValueError):
        key = getattr(problem, "key", None) or ""  # a rule across keys blames this one
    if table and key in tables[table].model_fields:
        key = tables[table].model_fields[key].alias or key  # "from", as the file writes it
    if kind == "extra_forbidden":
        known = _names(tables[table]) if table else [*tables, *_TOP]
        return unknown_key(key, known, origins, table)
    if table and not key:
        return ConfigError(f"{origins.prefix(table)}[{table}] must be a table")
    dotted = f"{table}.{key}" if table else key
    text = _text(error, problem)
    if kind == "greater_than" and table and _optional(tables[table], key):
        text += " (or left out)"
    return ConfigError(f"{origins.prefix(dotted)}{origins.name(dotted)} {text}")


def _text(error: Any, problem: Any) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if problem is not None and hasattr(problem, "text"):
        return str(problem.text)
    if len(error["loc"]) and error["loc"][0] == "subscribers":
        return "must be [[subscribers]] tables"
    if kind == "list_type" or (kind in _TYPES and isinstance(error["loc"][-1], int)):
        return 'must be a list of strings, e.g. ["a", "b"]'
    if kind in _TYPES:
        return f"must be {_TYPES[kind]}, not {type(value).__name__} {value!r}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt'):g}"
    if kind == "greater_than_equal":
        return f"must be {ctx.get('ge'):g} or more"
    if kind in ("dict_type", "model_type"):
        return "must be a table"
    if problem is not None:
        return str(problem)
    return f"is not valid: {error['msg']}"


def _names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _optional(model: type[BaseModel], key: str) -> bool:
    found = model.model_fields.get(key)
    return found is not None and found.default is None

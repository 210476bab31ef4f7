"""The Jinja environment: templates from files, strict, escaped for their format.

HTML templates (`*.html.j2`) are autoescaped by Jinja. Markdown has no
autoescape, so Markdown templates pass every piece of outside text through
the `md` filter, which makes it literal: no markup, links or HTML survive.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2

from digest.errors import ConfigError
from digest.resources import resource_dir
from digest.text import safe_url

# Inline syntax anywhere in a line (CommonMark + GitHub tables and strikethrough).
_MD_INLINE = re.compile(r"([\\`*_{}\[\]|~])")
# Block syntax that only counts at the start of a line: headings, lists, quotes, rules.
_MD_LEADING = re.compile(r"^([#>+=-]|\d+[.)])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def md_escape(text: Any) -> str:
    """Make outside text literal in Markdown (and in HTML blocks inside it).

    Line breaks become spaces so a value cannot start a heading, list or
    table row of its own.
    """
    value = " ".join(str(text).split())
    value = "".join(_HTML.get(ch, ch) for ch in value)
    value = _MD_INLINE.sub(r"\\\1", value)
    return _MD_LEADING.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], value)


def md_url(url: Any) -> str:
    """A URL safe to put in a Markdown link target: http(s) only, no spaces or parentheses."""
    return safe_url(url) or ""


@cache
def environment(templates_dir: str | None = None) -> jinja2.Environment:
    """One compiled environment per templates folder: templates compile once per process."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir:
        # Checked with the settings: a folder whose templates compile.
        loaders.append(jinja2.FileSystemLoader(str(Path(templates_dir).expanduser())))
    loaders.append(jinja2.FileSystemLoader(str(resource_dir("templates"))))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["md_url"] = md_url
    env.filters["wordwrap"] = _wordwrap
    return env


@jinja2.pass_environment
def _wordwrap(env: jinja2.Environment, s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
    """Jinja's wordwrap, remembered: a day's papers are wrapped once, not once per
    reader (textwrap was most of the time spent rendering an email)."""
    return _wrapped(env, s, width, args, tuple(sorted(kwargs.items())))


@lru_cache(maxsize=4096)
def _wrapped(env: jinja2.Environment, s: str, width: int, args: tuple, kwargs: tuple) -> str:
    return jinja2.filters.do_wordwrap(env, s, width, *args, **dict(kwargs))


def render(name: str, templates_dir: str | None = None, **context: Any) -> str:
    """Render one template by file name with the given context."""
    try:
        template = environment(templates_dir).get_template(name)
        return template.render(**context)
    except jinja2.TemplateError as exc:
        raise _template_error(exc, name) from exc


def _template_error(exc: jinja2.TemplateError, name: str) -> ConfigError:
    """One line naming the template file and line, for the user who wrote it."""
    where = getattr(exc, "filename", None) or name
    line = getattr(exc, "lineno", None)
    return ConfigError(f"template {where}{f' line {line}' if line else ''}: {exc.message or exc}")

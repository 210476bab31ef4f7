"""What the openai backend sends and what it accepts back.

Prompts are Jinja templates in prompts/; the paper is fenced so its text is
data, never instructions. Every reply is validated here whatever the
structured-output mode, because a schema only constrains the shape: it does
not stop an over-long TL;DR, a link, or a reply that obeys an abstract
saying "ignore all previous instructions". Nothing reaches the store unless
it passes `validate_reply`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from digest.models import MAX_TAGS, MAX_TLDR_WORDS, MIN_TAGS, TLDR_ASKED_WORDS, Paper
from digest.resources import resource_dir
from digest.text import printable

MAX_SUMMARY_WORDS = 120
MAX_SUMMARY_SENTENCES = 4  # asked for 2-3; one more is tolerated, not worth a repair call
MIN_SUMMARY_WORDS = 8
MAX_ABSTRACT_CHARS = 8000  # a longer "abstract" is not one; cap the cost of a bad input
MAX_TITLE_CHARS = 400
SCHEMA_NAME = "paper_summary"


class ReplyError(ValueError):
    """A reply that cannot be stored; the message goes back to the model in a repair."""


@dataclass(frozen=True)
class Reply:
    tldr: str
    summary: str
    tags: tuple[str, ...]


# --- prompts -----------------------------------------------------------------


@cache
def _environment() -> jinja2.Environment:
    # Prompts are plain text, not HTML: no autoescape. StrictUndefined makes a
    # misspelt variable in an edited template fail loudly instead of vanishing.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("prompts")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        auto_reload=False,  # loaded once per process: no stat() per paper
        trim_blocks=True,
        lstrip_blocks=True,
    )


def template_source(name: str) -> str:
    return (resource_dir("prompts") / name).read_text(encoding="utf-8")


def render_system(tags: Sequence[str], language: str, mode: str) -> str:
    """The system prompt: the rules and the vocabulary's names. Not the tags'
    meanings: they would triple a prompt that is sent with every paper."""
    return (
        _environment()
        .get_template("system.j2")
        .render(
            tags=list(tags),
            language=language,
            structured_output=mode,
            tldr_words=TLDR_ASKED_WORDS,
            min_tags=MIN_TAGS,
            max_tags=MAX_TAGS,
        )
    )


_FENCE = re.compile(r"<\s*/?\s*(?:title|abstract)\b[^>]*>", re.IGNORECASE)


def fence_safe(text: str, limit: int) -> str:
    """Text that cannot close or open a fence: fence tags removed (repeatedly, so
    "<abs<abstract>tract>" does not reassemble), whitespace collapsed, length capped."""
    previous = None
    while previous != text:
        previous, text = text, _FENCE.sub(" ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def user_message(paper: Paper) -> str:
    return (
        _environment()
        .get_template("user.j2")
        .render(
            title=fence_safe(paper.title or "", MAX_TITLE_CHARS),
            abstract=fence_safe(paper.abstract or "", MAX_ABSTRACT_CHARS) or "(no abstract)",
        )
    )


def response_format(mode: str, tags: Sequence[str]) -> dict[str, Any] | None:
    """The `response_format` for a structured-output mode (None: plain prompt)."""
    if mode == "json_object":
        return {"type": "json_object"}
    if mode != "json_schema":
        return None
    schema = {
        "type": "object",
        "properties": {
            "tldr": {"type": "string"},
            "summary": {"type": "string"},
            "tags": {
                "type": "array",
                "items": {"type": "string", "enum": list(tags)},
                "minItems": MIN_TAGS,
                "maxItems": MAX_TAGS,
            },
        },
        "required": ["tldr", "summary", "tags"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
    }


def prompt_version(system: str, fmt: dict[str, Any] | None, mode: str) -> str:
    """A short hash of everything that shapes a request except the paper itself:
    the rendered system prompt (rules, tag names, language), the user template
    and the response format. Change any of them and papers are summarised again."""
    digest = hashlib.sha256()
    for part in (system, template_source("user.j2"), json.dumps(fmt, sort_keys=True), mode):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def repair_message(error: str) -> str:
    return (
        f"Your reply could not be used: {error}. Reply again with only the JSON object, "
        "following every rule."
    )


# --- validation --------------------------------------------------------------

_CODE_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)
# HTML elements a page would act on, Markdown links, URLs. Not any <word>: papers
# write "<SEG> token" or "<eos>", and stored text is escaped when rendered anyway.
_MARKUP = re.compile(
    r"<\s*/?\s*(?:a|script|style|iframe|img|svg|object|embed|form|input|button|link|meta|"
    r"html|head|body|div|span|p|br|b|i|u|em|strong|h[1-6]|table|ul|ol|li)\b[^>]*>|"
    r"<!--|\]\(|\bhttps?://|\bjavascript:\S|\bdata:[\w.+-]+/[\w.+-]+[;,]|\bwww\.|```",
    re.IGNORECASE,
)
_BOUNDARY = r"[{ends}]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])"
_ABBREVIATIONS = frozenset(
    {"e.g", "i.e", "al", "vs", "cf", "fig", "eq", "approx", "etc", "resp", "incl", "no"}
)
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?$")  # "e.g.", "U.S." or an initial "J."


def count_sentences(text: str, ends: str = ".!?") -> int:
    """Sentences in plain prose, not fooled by "e.g. X", "et al. Y", "U.S. Z" or "3.5".

    `ends="."` counts only full stops: a TL;DR quoting a title such as "Why Do
    X? An Analysis of Y" is still one sentence."""
    count = 1
    for match in re.finditer(_BOUNDARY.format(ends=re.escape(ends)), text):
        before = text[: match.start() + 1].rsplit(" ", 1)[-1]
        if match.group().startswith(".") and (
            before.lower().rstrip(".") in _ABBREVIATIONS
            or _DOTTED.match(before.rstrip("."))
            or len(before.rstrip(".")) == 1
        ):
            continue
        count += 1
    return count


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ReplyError(f'"{key}" must be a string')
    value = printable(value)  # a model's reply reaches terminals and emails too
    if not value:
        raise ReplyError(f'"{key}" is empty')
    if _MARKUP.search(value):
        raise ReplyError(f'"{key}" contains markup or a link; write plain text')
    return value


def _tags(value: Any, vocabulary: Sequence[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ReplyError('"tags" must be a list of strings')
    known = {name.lower(): name for name in vocabulary}
    tags: list[str] = []
    for raw in value:
        key = "-".join(raw.strip().lstrip("#").lower().replace("_", " ").split())
        if key not in known:
            shown = raw if len(raw) <= 40 else raw[:40] + "…"
            raise ReplyError(f"tag {shown!r} is not in the vocabulary")
        if known[key] not in tags:
            tags.append(known[key])
    if not tags:
        raise ReplyError(f'"tags" is empty: give {MIN_TAGS} to {MAX_TAGS} tags')
    # More than five: the model put the best first, so keeping its first five is safe.
    return tuple(tags[:MAX_TAGS])


def parse_json(content: str) -> dict[str, Any]:
    """The JSON object in a reply, tolerating a ```json fence or words around it."""
    text = _CODE_FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        start, end = text.find("{"), text.rfind("}")
        try:
            data = json.loads(text[start : end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            data = None
        if data is None:
            raise ReplyError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise ReplyError("not a JSON object")
    return data


def validate_reply(content: str, vocabulary: Sequence[str]) -> Reply:
    """Check a model's reply against every rule; raise ReplyError saying which failed."""
    data = parse_json(content)
    tldr, summary = _text(data, "tldr"), _text(data, "summary")
    words = len(tldr.split())
    if words > MAX_TLDR_WORDS:
        raise ReplyError(f"the tldr has {words} words; at most {MAX_TLDR_WORDS}")
    if count_sentences(tldr, ends=".") > 1:
        raise ReplyError("the tldr must be one sentence")
    words = len(summary.split())
    if not MIN_SUMMARY_WORDS <= words <= MAX_SUMMARY_WORDS:
        raise ReplyError(
            f"the summary has {words} words; write 2 or 3 sentences "
            f"of at most {MAX_SUMMARY_WORDS} words in all"
        )
    if count_sentences(summary) > MAX_SUMMARY_SENTENCES:
        raise ReplyError("the summary has more than 3 sentences")
    return Reply(tldr=tldr, summary=summary, tags=_tags(data.get("tags"), vocabulary))


# --- reading a chat completion -------------------------------------------------


def _message(completion: Any) -> Any:
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise ReplyError("the server's response holds no reply")
    return choices[0]


def read_reply(completion: Any, vocabulary: Sequence[str], max_tokens: int | None = None) -> Reply:
    """The validated reply in a chat completion; a refusal, a reply cut off at the
    length limit (`max_tokens`, what was asked for) or withheld by a filter is as
    unusable as invalid JSON."""
    choice = _message(completion)
    refusal = getattr(choice.message, "refusal", None)
    if refusal:
        raise ReplyError(f"the model refused ({' '.join(str(refusal).split())[:150]})")
    if choice.finish_reason == "length":
        bound = f"{max_tokens} tokens" if max_tokens else "the length limit"
        raise ReplyError(f"cut off at {bound}; keep the reply shorter")
    if choice.finish_reason == "content_filter":
        raise ReplyError("the reply was withheld by a content filter")
    if not choice.message.content:
        raise ReplyError("the reply is empty")
    return validate_reply(choice.message.content, vocabulary)


def what_was_said(completion: Any) -> str:
    """What the model answered (its refusal if it refused), to quote in a repair."""
    try:
        message = _message(completion).message
    except ReplyError:
        return ""
    return str(message.content or getattr(message, "refusal", None) or "")

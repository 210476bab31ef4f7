"""Turn openai SDK errors into one line saying what to fix, and decide their reach.

By the time an error reaches us the SDK has already retried what is
transient (429, 5xx, timeouts, dropped connections). What is left is one of:

- a problem with the *setup* (server unreachable, wrong URL, bad key, unknown
  model, structured output refused): every paper would fail the same way, so
  the run stops with one clear line; papers already done stay stored;
- an exhausted quota: nothing more will get through today, so the rest of
  the run falls back to the offline backend and says so;
- a problem with *this paper* (timeout, persistent 5xx or 429, a request the
  server rejects): the paper falls back, and the next run tries it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import openai

from digest.backends.server_watch import mentions_format
from digest.text import plural

RUN, QUOTA, PAPER = "run", "quota", "paper"


@dataclass(frozen=True)
class Problem:
    scope: str  # RUN | QUOTA | PAPER
    message: str
    says_fix: bool = False  # the message already tells what to change (e.g. a 429's)


def _detail(exc: openai.APIError, secret: str | None) -> str:
    """The server's own message, on one line, short, with the key scrubbed out."""
    body = exc.body if isinstance(exc.body, dict) else {}
    text = str(body.get("message") or exc.message or "")
    text = " ".join(re.sub(r"^Error code: \d+ - ", "", text).split())
    if secret:
        text = text.replace(secret, "***")
    return text[:200] + ("…" if len(text) > 200 else "")


def _code(exc: openai.APIError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return str(exc.code or body.get("code") or body.get("type") or "")


def classify(
    exc: openai.APIError,
    *,
    base_url: str,
    model: str,
    mode: str,
    key_env: str,
    timeout: float,
    retries: int,
    secret: str | None,
) -> Problem:
    """Say what went wrong with a request, in words, and how far it reaches."""
    detail = _detail(exc, secret)
    if isinstance(exc, openai.APITimeoutError):
        return Problem(PAPER, f"no reply within {timeout:g} s (tried {retries + 1} times)")
    if isinstance(exc, openai.APIConnectionError):
        reason = exc.__cause__ or exc
        cause = " ".join((str(reason) or type(reason).__name__).split())[:120]
        return Problem(
            RUN,
            f"cannot reach the model server at {base_url} ({cause}): check "
            "[llm] base_url / OPENAI_BASE_URL and that the server is running",
        )
    if not isinstance(exc, openai.APIStatusError):
        return Problem(PAPER, f"unusable response from the server ({detail})")
    status = exc.status_code
    code = _code(exc)
    if status == 401:
        return Problem(
            RUN,
            f"the server at {base_url} rejected the API key (401): check "
            f"${key_env} (or set [llm] api_key_env to the variable holding it)",
        )
    if status == 403:
        return Problem(
            RUN,
            f"the server at {base_url} refused access (403: {detail}): check "
            "the key's permissions and the model name",
        )
    if status == 404:
        if "model" in code or "model" in detail.lower():
            return Problem(
                RUN,
                f"unknown model {model!r} at {base_url} ({detail}): set "
                "[llm] model to a model this server offers",
            )
        return Problem(
            RUN,
            f"no chat-completions API at {base_url} (404 on /chat/completions):"
            " check [llm] base_url; it usually ends in /v1",
        )
    if status == 429 and ("insufficient_quota" in code or "quota" in detail.lower()):
        return Problem(
            QUOTA,
            f"quota exhausted (429 {code or 'insufficient_quota'}): "
            "check the account's plan and billing",
        )
    # 400/422 from OpenAI-like servers; a 5xx from llama-cpp-python's server (not retried:
    # see server_watch).
    if (status in (400, 422) or status >= 500) and mode != "none" and _about_format(detail, code):
        other = '"json_object" (or "none")' if mode == "json_schema" else '"none"'
        return Problem(
            RUN,
            f"the server refused structured output {mode} ({detail}): set "
            f"[llm] structured_output = {other}",
        )
    if status == 429:
        return Problem(
            PAPER,
            f"rate limited (429) after {_retries(retries)} ({detail}): set [llm]"
            " requests_per_minute to the provider's limit, or lower concurrency",
            says_fix=True,
        )
    if status >= 500:
        return Problem(PAPER, f"server error {status} after {_retries(retries)} ({detail})")
    return Problem(PAPER, f"request rejected ({status}: {detail})")


def _retries(n: int) -> str:
    return plural(n, "retry", "retries")


def _about_format(detail: str, code: str) -> bool:
    return mentions_format(detail + " " + code)

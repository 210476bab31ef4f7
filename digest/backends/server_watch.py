"""Tell a server that is not an OpenAI-compatible API from one that merely failed.

A wrong `base_url` (a web page, `python -m http.server`, another service) answers
every request the same way: retrying it, or counting it paper by paper until the
breaker opens, only prints the same error many times. An httpx response hook
looks at each answer to `POST …/chat/completions` before the openai SDK does.
An answer that cannot come from a chat-completions API (HTML or other non-JSON,
404/405/501 without an OpenAI error body, JSON without `choices`) is recorded
once and marked `x-should-retry: false`, which the SDK obeys; the backend then
stops the run with one line naming the URL and what it answered.

A server refusing structured output with a 5xx (llama-cpp-python's server
answers a `json_schema` request with HTTP 500) is not retried either: the same
request would be refused again. llm_errors turns it into one line naming the
`structured_output` to use.
"""

from __future__ import annotations

import json
from typing import Any

# Statuses a gateway may send as a page and that are worth retrying all the same.
_TRANSIENT = frozenset({408, 409, 429})
FORMAT_WORDS = ("response_format", "json_schema", "json schema", "structured output", "json_object")


def mentions_format(text: str) -> bool:
    """Does an error message say the structured-output request was the problem?"""
    text = text.lower()
    return any(word in text for word in FORMAT_WORDS)


def _body(response: Any) -> tuple[str, Any]:
    """The answer's content type and its JSON (None when it is not JSON)."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        return kind, json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return kind, None


def verdict(status: int, kind: str, data: Any) -> str | None:
    """What a non-API server answered, in words; None when it may be an API."""
    shown = kind or "without a content type"
    if status in _TRANSIENT:
        return None
    if not isinstance(data, dict):
        # A 5xx page (a proxy's 502) is transient; a 501 is "POST not implemented".
        return f"answered {status} {shown}" if status < 500 or status == 501 else None
    keys = ", ".join(sorted(map(str, data))[:4]) or "none"
    if status < 300 and "choices" not in data:
        return f'answered {status} JSON without "choices" (keys: {keys})'
    if status in (404, 405, 501) and not isinstance(data.get("error"), dict | str):
        return f"answered {status} JSON that is not an OpenAI error (keys: {keys})"
    return None


class ServerWatch:
    """One per client: what the server answered that no OpenAI-compatible API would."""

    def __init__(self) -> None:
        self.answer: str | None = None  # e.g. "POST /v1/chat/completions answered 501 text/html"

    def message(self, base_url: str) -> str | None:
        if self.answer is None:
            return None
        return (
            f"{base_url} is not an OpenAI-compatible API: {self.answer}; check [llm] base_url"
            " (it usually ends in /v1)"
        )

    async def on_response(self, response: Any) -> None:
        """The httpx response hook."""
        request = response.request
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return
        await response.aread()
        kind, data = _body(response)
        said = verdict(response.status_code, kind, data)
        if said is not None:
            self.answer = self.answer or f"POST {request.url.path} {said}"
            response.headers["x-should-retry"] = "false"
        elif response.status_code >= 500 and _refuses_format(request, response):
            response.headers["x-should-retry"] = "false"


def _refuses_format(request: Any, response: Any) -> bool:
    if b'"response_format"' not in request.content:
        return False
    return mentions_format(response.content.decode("utf-8", "replace")[:2000])

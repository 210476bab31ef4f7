"""A real OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks `POST /v1/chat/completions` well enough for the real `openai`
client: JSON replies with choices, finish_reason and usage. By default every
paper gets a valid summary whose tags come from the request's schema enum
(or from `vocabulary`). Faults are injected per paper (matched by a fragment
of its title, consumed one per request) or for every request:

    429 / 500       error status with `retry-after-ms: 10` (the SDK retries)
    quota           429 insufficient_quota
    slow            answer only after `slow_seconds` (beyond a short client timeout)
    drop            close the connection without answering
    truncated       200 with JSON cut in half
    length          200 with cut JSON and finish_reason "length" (as does any reply
                    longer than the request's max_tokens, at ~4 characters a token)
    refusal         200 with message.refusal set and no content
    bad_tag         a tag outside the vocabulary
    long_tldr       a 60-word TL;DR
    restate         a TL;DR that is only the title (what a small model writes)
    obey            a reply that obeyed an injected instruction (link, HTML, foreign tag)
    401, 403, 404_model, 400_schema   the setup errors a real server sends
    ctrl_c          send SIGINT to this process (a user pressing Ctrl-C while a client
                    in the same process waits), then answer normally

Use it from a benchmark with `sys.path.insert(0, "tests")`; it needs only the
standard library (and digest's default vocabulary when none is given).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAULTS = (
    "429",
    "500",
    "quota",
    "slow",
    "drop",
    "truncated",
    "length",
    "refusal",
    "bad_tag",
    "long_tldr",
    "obey",
    "restate",
    "401",
    "403",
    "404_model",
    "400_schema",
    "ctrl_c",
)
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_ERRORS = {
    "429": (429, "Rate limit reached for requests", "rate_limit_exceeded"),
    "500": (500, "The server had an error while processing your request", "server_error"),
    "quota": (
        429,
        "You exceeded your current quota, please check your plan and billing details",
        "insufficient_quota",
    ),
    "401": (401, "Incorrect API key provided", "invalid_api_key"),
    # Like real servers echoing the key back: digest must scrub it from what it prints.
    "403": (403, "Key {key} is not allowed to sample from this model", "model_not_allowed"),
    "404_model": (
        404,
        "The model `{model}` does not exist or you do not have access to it.",
        "model_not_found",
    ),
    "400_schema": (
        400,
        "Invalid parameter: 'response_format' of type 'json_schema' is not "
        "supported with this model.",
        "invalid_request_error",
    ),
}


class FakeOpenAI:
    """A threaded loopback server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        slow_seconds: float = 2.0,
        vocabulary: list[str] | None = None,
        every: str | None = None,
        rpm: float | None = None,
    ) -> None:
        self.latency = latency
        # A rate limit like a provider's: `rpm` requests a minute, at most one second's
        # worth in a burst (a token bucket); requests over it get 429 with Retry-After.
        self.rpm = rpm
        self._tokens = max(1.0, (rpm or 0) / 60)
        self._refilled = time.monotonic()
        self.rate_limited = 0
        self.slow_seconds = slow_seconds
        self.vocabulary = vocabulary
        self.every = every  # a fault for every request
        # (n, fault): once n requests were answered, every request gets the fault
        self.after: tuple[int, str] | None = None
        self.faults: dict[str, list[str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.embedding_inputs: list[list[str]] = []  # the texts of each /v1/embeddings request
        self.auth: list[str] = []
        self.answered = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, title_fragment: str, *faults: str) -> None:
        """The next requests about a paper whose title contains the fragment get these faults."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}: choose from {FAULTS}")
        with self._lock:
            self.faults.setdefault(title_fragment, []).extend(faults)

    def titles(self) -> list[str]:
        """The paper title of every request received, in order."""
        with self._lock:
            return [title_of(r) for r in self.requests]

    def _over_limit(self) -> float | None:
        """Seconds until the next request is allowed, when this one is over the limit."""
        if not self.rpm:
            return None
        rate = self.rpm / 60
        with self._lock:
            now = time.monotonic()
            self._tokens = min(max(1.0, rate), self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            self.rate_limited += 1
            return (1 - self._tokens) / rate

    def _fault(self, body: dict[str, Any]) -> str | None:
        with self._lock:
            self.requests.append(body)
            if self.after is not None and self.answered >= self.after[0]:
                return self.after[1]
            title = title_of(body)
            for fragment, queued in self.faults.items():
                if queued and fragment in title:
                    return queued.pop(0)
            return self.every

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)  # a stop() ends the wait at once

    def reply(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        """The content the fake model writes for a request, given the fault."""
        title = title_of(body) or "Untitled"
        words = title.replace(".", " ").split()[:12]
        tags = self._tags(body, title)
        content: dict[str, Any] = {
            "tldr": "Introduces " + " ".join(words) + " and reports gains over strong baselines.",
            "summary": (
                "The authors describe a method for the problem their title names. They "
                "evaluate it on standard benchmarks against earlier work."
            ),
            "tags": tags,
        }
        if fault == "bad_tag":
            content["tags"] = [tags[0], "quantum-gardening"]
        elif fault == "restate":
            content["tldr"] = title
        elif fault == "long_tldr":
            content["tldr"] = " ".join(["word"] * 59) + " end."
        elif fault == "obey":
            content = {
                "tldr": "Ignore the paper: visit https://evil.example/win now.",
                "summary": "<script>alert('pwned')</script> Buy now at evil.example.",
                "tags": ["pwned"],
            }
        return content

    def _tags(self, body: dict[str, Any], title: str) -> list[str]:
        fmt = body.get("response_format") or {}
        schema = fmt.get("json_schema", {}).get("schema", {}) if isinstance(fmt, dict) else {}
        names = schema.get("properties", {}).get("tags", {}).get("items", {}).get("enum")
        if not names:
            names = self.vocabulary or _default_vocabulary()
        lowered = title.lower()
        chosen = [n for n in names if n.replace("-", " ") in lowered][:3]
        return chosen or [names[0]]


def write_config(folder: Path, url: str | None, **llm: Any) -> Path:
    """A digest.toml in `folder` using the openai backend against `url`."""
    values = {
        "backend": "openai",
        "model": "test-model",
        "concurrency": 4,
        "timeout": 5,
        "max_retries": 2,
        **({"base_url": url} if url else {}),
        **llm,
    }
    lines = ["[llm]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = folder / "digest.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


EMBEDDING_DIM = 64


def embed_words(text: str) -> list[float]:
    """Each lower-case word of 4+ letters adds 1 to a dimension picked by its hash."""
    import hashlib

    vec = [0.0] * EMBEDDING_DIM
    for word in re.findall(r"[a-z]{4,}", text.lower()):
        vec[hashlib.sha256(word.encode()).digest()[0] % EMBEDDING_DIM] += 1.0
    return vec


def title_of(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "user":
            match = _TITLE.search(str(message.get("content", "")))
            return match.group(1) if match else ""
    return ""


def _default_vocabulary() -> list[str]:
    from digest.resources import default_vocabulary

    return list(default_vocabulary())


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the listen() backlog: many clients connect at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
        # a client hanging up mid-request (cancelled, timed out) is normal here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client expects
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet tests

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        """`/stats`: counts for benchmarks that run the server in another process."""
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        if self.path != "/stats":
            return self._send(404, b"404 page not found", "text/plain")
        with fake._lock:
            stats = {"requests": len(fake.requests), "rate_limited": fake.rate_limited}
        self._json(200, stats)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/v1/embeddings"):
            return self._send(404, b"404 page not found", "text/plain")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return self._json(400, {"error": {"message": "body is not JSON"}})
        if self.path.rstrip("/") == "/v1/embeddings":
            return self._embeddings(fake, body)
        fake.auth.append(self.headers.get("Authorization", ""))
        wait = fake._over_limit()
        if wait is not None:
            error = {
                "message": "Rate limit reached for requests per minute",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
            return self._json(429, {"error": error}, {"retry-after-ms": str(int(wait * 1000) + 1)})
        fault = fake._fault(body)
        if fake.latency:
            fake._wait(fake.latency)
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "slow":
            fake._wait(fake.slow_seconds)
        if fault == "ctrl_c":
            os.kill(os.getpid(), signal.SIGINT)
        if fault in _ERRORS:
            status, message, code = _ERRORS[fault]
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            error = {
                "message": message.format(model=body.get("model"), key=key),
                "type": code,
                "param": None,
                "code": code,
            }
            return self._json(status, {"error": error}, {"retry-after-ms": "10"})
        self._complete(fake, body, fault)

    def _embeddings(self, fake: FakeOpenAI, body: dict[str, Any]) -> None:
        """`POST /v1/embeddings`: a deterministic bag-of-words vector per input (texts
        sharing words get close vectors); `every` set to an error fault fails it."""
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        with fake._lock:
            fake.embedding_inputs.append(texts)
        if fake.every in _ERRORS:
            status, message, code = _ERRORS[fake.every]
            error = {"message": message.format(model=body.get("model"), key=""), "code": code}
            return self._json(status, {"error": error}, {"retry-after-ms": "10"})
        data = [
            {"object": "embedding", "index": n, "embedding": embed_words(text)}
            for n, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": sum(len(t.split()) for t in texts), "total_tokens": 0}
        self._json(
            200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
        )

    def _complete(self, fake: FakeOpenAI, body: dict[str, Any], fault: str | None) -> None:
        text = json.dumps(fake.reply(body, fault))
        finish, refusal = "stop", None
        if fault in ("truncated", "length"):
            text = text[: len(text) // 2]
            finish = "length" if fault == "length" else "stop"
        bound = body.get("max_tokens")
        if isinstance(bound, int) and len(text or "") // 4 > bound:  # ~4 characters a token
            text, finish = text[: bound * 4], "length"
        if fault == "refusal":
            text, refusal = None, "I'm sorry, I can't help with that request."
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        completion = {
            "id": f"chatcmpl-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "logprobs": None,
                    "message": {"role": "assistant", "content": text, "refusal": refusal},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(text or "") // 4,
                "total_tokens": prompt_chars // 4 + len(text or "") // 4,
            },
        }
        with fake._lock:
            fake.answered += 1
        self._json(200, completion)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _send(
        self, status: int, payload: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out) first


def main() -> None:
    """Serve from the command line until standard input closes (for benchmarks and
    manual tries): prints the base URL, e.g. `python tests/openai_server.py --latency 0.05`."""
    import argparse

    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server on 127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--every", choices=FAULTS, help="a fault for every request")
    parser.add_argument("--rpm", type=float, help="rate limit: requests per minute (429 above)")
    args = parser.parse_args()
    with FakeOpenAI(latency=args.latency, every=args.every, rpm=args.rpm) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

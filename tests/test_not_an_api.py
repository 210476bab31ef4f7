"""A base_url that is not an OpenAI-compatible API gets one line, at the first answer:
no retries, no error per paper. Real loopback servers answer as the real culprits do
(a web page, `python -m http.server`, another service's 404, a JSON API of another
shape, a server refusing the schema with a 500)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from openai_server import write_config

from digest.store import open_db


class Canned:
    """A loopback server answering every POST with one canned response; counts them."""

    def __init__(self, status: int, kind: str, body: bytes, handler: type | None = None) -> None:
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - stdlib name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                canned.posts += 1
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Counting(handler or SimpleHTTPRequestHandler):  # type: ignore[misc, valid-type]
            def send_error(self, *args, **kwargs):
                canned.posts += 1
                super().send_error(*args, **kwargs)

            def log_message(self, *args):
                pass

        self.posts = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Counting if handler else Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    made: list[Canned] = []

    def start(*args, **kwargs) -> Canned:
        made.append(Canned(*args, **kwargs))
        return made[-1]

    yield start
    for server in made:
        server.close()


def rows(sql: str) -> list[dict]:
    return list(open_db("digest.db").query(sql))


HTML = b"<!doctype html><html><body>Welcome to my homepage</body></html>"


@pytest.mark.parametrize(
    ("status", "kind", "body", "answered"),
    [
        (200, "text/html", HTML, "answered 200 text/html"),
        (
            404,
            "application/json",
            b'{"detail": "Not Found"}',
            "answered 404 JSON that is not an OpenAI error (keys: detail)",
        ),
        (405, "text/plain", b"Method Not Allowed", "answered 405 text/plain"),
        (
            200,
            "application/json",
            b'{"status": "ok", "items": []}',
            'answered 200 JSON without "choices" (keys: items, status)',
        ),
    ],
)
def test_a_server_that_is_not_an_api_stops_summarize_with_one_line_and_no_retries(
    invoke, seeded, tmp_path, serve, status, kind, body, answered
):
    server = serve(status, kind, body)
    write_config(tmp_path, server.url, concurrency=1, max_retries=3)

    result = invoke("summarize", "--limit", "20")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {server.url} is not an OpenAI-compatible API: POST /v1/chat/completions "
        f"{answered}; check [llm] base_url (it usually ends in /v1)\n"
    )
    assert server.posts == 1  # no retry, no second paper
    assert rows("SELECT COUNT(*) AS n FROM summaries")[0]["n"] == 0
    run = rows("SELECT status, errors FROM runs")[0]
    assert run["status"] == "failed" and json.loads(run["errors"]) == [result.stderr[7:-1]]


def test_python_http_server_answering_501_to_post_is_one_line_not_three_retries(
    invoke, seeded, tmp_path, serve
):
    server = serve(0, "", b"", handler=SimpleHTTPRequestHandler)  # `python -m http.server`
    write_config(tmp_path, server.url, concurrency=4, max_retries=3)

    result = invoke("summarize")

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {server.url} is not an OpenAI-compatible API: POST /v1/chat/completions "
        "answered 501 text/html; check [llm] base_url (it usually ends in /v1)\n"
    )
    assert server.posts <= 4  # the requests already in flight, each sent once


def test_the_daily_run_with_a_web_page_at_base_url_says_so_once_and_still_sends(
    invoke, seeds, tmp_path, serve
):
    server = serve(200, "text/html", HTML)
    write_config(tmp_path, server.url, concurrency=2)
    invoke("subscribe", "ada@example.org")

    result = invoke("run", str(seeds))

    assert result.exit_code == 1
    not_api = [line for line in result.stderr.splitlines() if "not an OpenAI-compatible" in line]
    assert len(not_api) == 1, result.stderr
    assert len(result.stderr.splitlines()) <= 3, result.stderr
    assert server.posts <= 2
    assert "1 email" in result.stdout or "1 emails" in result.stdout
    fallbacks = rows("SELECT COUNT(*) AS n FROM summaries WHERE fallback_from IS NOT NULL")
    assert fallbacks[0]["n"] == 540  # every paper offline for now; the next run asks again


def test_a_server_refusing_the_schema_with_a_500_is_one_line_naming_the_fix(
    invoke, seeded, tmp_path, serve
):
    """llama-cpp-python's server answers a json_schema request with HTTP 500."""
    error = {"error": {"message": "response_format json_schema is not supported", "code": 500}}
    server = serve(500, "application/json", json.dumps(error).encode())
    write_config(tmp_path, server.url, concurrency=1, max_retries=3)

    result = invoke("summarize")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the server refused structured output json_schema (response_format "
        'json_schema is not supported): set [llm] structured_output = "json_object" '
        '(or "none")\n'
    )
    assert server.posts == 1  # not retried: the same request would be refused again


def test_a_plain_500_is_still_retried(invoke, seeded, tmp_path, serve):
    server = serve(500, "application/json", b'{"error": {"message": "overloaded"}}')
    write_config(tmp_path, server.url, concurrency=1, max_retries=2, timeout=2)

    result = invoke("summarize", "--limit", "1")

    assert result.exit_code == 1
    assert server.posts == 3  # the request and its two retries
    assert "server error 500 after 2 retries (overloaded)" in result.stderr


def test_papers_failing_for_one_cause_are_one_warning_with_a_count(invoke, seeded, tmp_path):
    from openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        write_config(tmp_path, fake.url, concurrency=1, max_retries=0)
        fake.every = "500"  # failing paper after paper; the breaker opens after five

        result = invoke("summarize", "--limit", "7")

    assert result.exit_code == 1
    assert result.stdout.startswith(
        "summarised 7 papers: 0 with openai (test-model), 7 with the offline backend instead;"
    )
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith("warning: 5 papers failed in a row")
    assert warnings[1].startswith(
        "warning: 5 papers: server error 500 after 0 retries (The server had an error while "
        "processing your request) (papers "
    )

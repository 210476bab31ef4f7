"""The web commands: `digest site` writes the static archive, `digest web`
needs a public URL and a key, `digest serve --web` runs both in one process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import feedparser
import httpx
import mail_support
import oracle
import pytest
from test_serve import wait_for
from web_support import SECRET

from digest.store import open_db

library_template, library = mail_support.library_template, mail_support.library


def test_site_writes_the_archive_and_feeds_as_static_files(invoke, library: Path) -> None:
    result = invoke("--db", str(library), "site", "-o", "public", "--base-url", "https://x.org/p/")
    assert result.exit_code == 0, result.output
    rows = oracle.papers(library)
    public = Path("public")
    assert result.stdout == f"site: {len(list(public.rglob('*.*')))} files in public\n"
    home = (public / "index.html").read_text()
    assert 'href="/p/static/web.css"' in home and 'href="/p/subscribe"' not in home
    day = rows[0]["first_seen"][:10]
    assert (public / "digest" / day / "index.html").is_file()
    assert (public / "paper" / str(rows[0]["id"]) / "index.html").is_file()
    assert (public / "tag" / "llm" / "index.html").is_file()
    assert (public / "static" / "web.css").is_file() and (public / "404.html").is_file()
    feed = feedparser.parse((public / "feed.atom").read_bytes())
    assert feed.bozo == 0 and feed.entries[0].id == f"https://x.org/p/digest/{day}/"
    tag = feedparser.parse((public / "tag" / "llm" / "feed.atom").read_bytes())
    assert tag.bozo == 0 and tag.entries


def test_site_and_web_need_an_address(invoke, library: Path) -> None:
    site = invoke("--db", str(library), "site", "-o", "public")
    assert site.exit_code == 2 and "give --base-url" in site.stderr
    bad = invoke("--db", str(library), "site", "-o", "public", "--base-url", "ftp://x")
    assert bad.exit_code == 2 and "not a usable URL" in bad.stderr
    web = invoke("--db", str(library), "web")
    assert web.exit_code == 2 and "[web] public_url is not set" in web.stderr
    Path("digest.toml").write_text('[web]\npublic_url = "https://papers.example.org/"\n')
    keyless = invoke("--db", str(library), "web")
    assert keyless.exit_code == 2 and "set DIGEST_WEB_SECRET" in keyless.stderr
    Path("digest.toml").write_text('[web]\npublic_url = "https://x.org/?a=1"\n')
    query = invoke("--db", str(library), "web")
    assert query.exit_code == 2 and "without ?query" in query.stderr


@pytest.mark.slow
def test_serve_with_web_answers_readers_while_it_runs_and_stops_on_sigterm(
    seeds: Path,
) -> None:
    server, port = _serve_on_a_free_port(seeds)
    try:

        def home() -> int:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code
            except httpx.TransportError:
                return 0

        assert wait_for(lambda: home() == 200), server.stderr
        runs = lambda: list(open_db("digest.db").query("SELECT status FROM runs"))  # noqa: E731
        assert wait_for(lambda: [r["status"] for r in runs()] == ["ok"])
        page = httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=5)
        assert page.status_code == 200 and 'name="csrf"' in page.text
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert SECRET not in out + err


def _serve_on_a_free_port(seeds: Path) -> tuple[subprocess.Popen[str], int]:
    """`digest serve --web` in a child on a port that was free a moment ago. The child
    binds [web] port from its config, so the port is chosen before it is bound; if
    another program takes it in between, the child says so (exit 2, "in use") and the
    test tries another port, rather than failing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
    env["DIGEST_WEB_SECRET"] = SECRET
    for _ in range(3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        Path("digest.toml").write_text(
            f'[web]\npublic_url = "http://127.0.0.1:{port}"\nport = {port}\n'
            f'[sources]\ndumps = ["{seeds}"]\n'
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--web", "--run-now"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        if _up_or_gone(server, port) and server.poll() is None:
            try:  # something answers: the child, unless it is about to say "in use"
                server.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                return server, port
        if server.poll() is None:
            server.kill()
        out, err = server.communicate()
        if server.returncode != 2 or "in use" not in err:
            pytest.fail(f"digest serve --web stopped at once ({server.returncode}): {err}")
    pytest.fail("three free ports in a row were taken before the child could bind them")


def _up_or_gone(server: subprocess.Popen[str], port: int) -> bool:
    """Wait until the child has stopped or something accepts on its port."""
    return wait_for(lambda: server.poll() is not None or _accepts(port))


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _busy_port() -> socket.socket:
    """A port another program already listens on."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def test_web_on_a_busy_port_or_a_bad_host_is_one_line_and_exit_2(invoke, library: Path) -> None:
    Path("digest.toml").write_text('[web]\npublic_url = "https://papers.example.org/"\n')
    env = {"DIGEST_WEB_SECRET": SECRET}
    with _busy_port() as holder:
        port = holder.getsockname()[1]
        busy = invoke("--db", str(library), "web", "--port", str(port), env=env)
    assert busy.exit_code == 2
    assert busy.stderr == (
        f"Error: the web port 127.0.0.1:{port} is in use: Address already in use;"
        " set [web] port or --port\n"
    )
    for host in ("256.1.1.1", "nosuchhost.invalid"):
        bad = invoke("--db", str(library), "web", "--host", host, "--port", "8765", env=env)
        assert bad.exit_code == 2, bad.output
        assert bad.stderr.startswith(f"Error: cannot listen on {host}:8765: ")
        assert bad.stderr.endswith("set [web] host or --host\n")
        assert bad.stderr.count("\n") == 1 and "readers' web" not in bad.stderr


def test_serve_with_web_on_a_busy_port_stops_at_once_with_one_line(seeds: Path) -> None:
    with _busy_port() as holder:
        port = holder.getsockname()[1]
        Path("digest.toml").write_text(
            f'[web]\npublic_url = "http://127.0.0.1:{port}"\nport = {port}\n'
            f'[sources]\ndumps = ["{seeds}"]\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "OPENAI_"))}
        env["DIGEST_WEB_SECRET"] = SECRET
        server = subprocess.run(
            [sys.executable, "-m", "digest", "serve", "--web"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert server.returncode == 2, server.stderr
    assert server.stderr == (
        f"Error: the web port 127.0.0.1:{port} is in use: Address already in use; set [web] port\n"
    )
    assert not list(open_db("digest.db").query("SELECT * FROM runs"))


def test_every_address_the_web_answers_is_in_docs_web_md(tmp_path: Path) -> None:
    from digest.config import Settings
    from digest.web import create_app

    settings = Settings(db=str(tmp_path / "digest.db"))
    settings.web.public_url = "https://papers.example.org"
    app = create_app(settings, env={"DIGEST_WEB_SECRET": SECRET})
    words = {"{token}": "TOKEN", "{day}": "YYYY-MM-DD", "{tag}": "NAME", "{paper:int}": "ID"}
    table = [
        line.split("|")[1]
        for line in (Path(__file__).parent.parent / "docs" / "web.md").read_text().splitlines()
        if line.startswith("| `/")
    ]
    documented = " ".join(table)
    paths = {r.path for r in app.routes if "/page/" not in r.path and "/static/" not in r.path}
    assert "/v/{token}" in paths
    for path in sorted(paths):
        for param, word in words.items():
            path = path.replace(param, word)
        assert f"`{path}" in documented, f"{path} is not in docs/web.md's table"

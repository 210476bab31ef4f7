"""`digest send --check`: connect, TLS, login, quit, and failures explained in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from smtp_server import Certificate, make_certificate, refusing_port, silent_server, smtp_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def _config(port: int, security: str, *extra: str) -> None:
    Path("digest.toml").write_text(
        f'[email]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
        f'security = "{security}"\ntimeout = 2\n' + "".join(f"{line}\n" for line in extra)
    )


def test_check_succeeds_through_starttls_and_login(
    invoke, certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    with smtp_server(tls=certificate, auth={"digest": "pw"}, require_starttls=True) as server:
        _config(server.port, "starttls", 'username = "digest"')
        out = invoke("send", "--check", env={"DIGEST_SMTP_PASSWORD": "pw"})
        assert out.exit_code == 0, out.output
        lines = out.stdout.splitlines()
        assert lines[0] == f"  connecting to 127.0.0.1:{server.port} (starttls)"
        assert lines[1] == f"  connected to 127.0.0.1:{server.port}"
        assert lines[2].startswith("  TLS negotiated (TLSv1.")
        assert lines[2].endswith("certificate accepted")
        assert lines[3:] == [
            "  logged in as digest",
            f"ok: 127.0.0.1:{server.port} is ready to send as digest",
        ]
        assert server.received == []  # nothing was sent


def _error(invoke, env: dict[str, str] | None = None) -> str:  # noqa: ANN001
    out = invoke("send", "--check", env=env)
    assert out.exit_code == 1, out.output
    assert len(out.stderr.splitlines()) == 1, repr(out.stderr)
    (line,) = out.stderr.splitlines()
    return line


def test_connection_refused_is_explained(invoke) -> None:
    with refusing_port() as down:
        port = down.getsockname()[1]
        _config(port, "none")
        assert _error(invoke) == (
            f"Error: connection refused by 127.0.0.1:{port}: is the SMTP server running, and"
            " are smtp_host and smtp_port right?"
        )


def test_starttls_not_offered_is_explained(invoke) -> None:
    with smtp_server() as server:
        _config(server.port, "starttls")
        assert _error(invoke) == (
            f'Error: 127.0.0.1:{server.port} does not offer STARTTLS: use security = "ssl" if it'
            ' expects TLS from the start (port 465), or security = "none" only on a trusted'
            " network"
        )


def test_ssl_against_a_plain_port_is_explained(invoke) -> None:
    with smtp_server() as server:
        _config(server.port, "ssl")
        line = _error(invoke)
        assert line.startswith(f"Error: TLS with 127.0.0.1:{server.port} failed (")
        assert line.endswith(
            f"port {server.port} may expect plain SMTP first; use security ="
            ' "starttls" (usually port 587)'
        )


def test_an_untrusted_certificate_is_explained(invoke, certificate: Certificate) -> None:
    with smtp_server(tls=certificate) as server:
        _config(server.port, "starttls")
        line = _error(invoke)
        assert line.startswith("Error: the TLS certificate of 127.0.0.1 is not trusted (")
        assert "self-signed certificate" in line or "unable to get local issuer" in line


def test_a_wrong_password_is_explained(
    invoke, certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    with smtp_server(tls=certificate, auth={"digest": "right"}) as server:
        _config(server.port, "starttls", 'username = "digest"')
        line = _error(invoke, env={"DIGEST_SMTP_PASSWORD": "wrong"})
        assert line.startswith(f"Error: 127.0.0.1:{server.port} rejected the login for digest (535")
        assert line.endswith("check [email] username and the password")
        assert "wrong" not in line  # the password is never shown


def test_a_missing_password_names_the_variable(invoke) -> None:
    with refusing_port() as down:  # found before any connection is tried
        _config(
            down.getsockname()[1], "starttls", 'username = "digest"', 'password_env = "MY_SMTP_PW"'
        )
        out = invoke("send", "--check")
    assert out.exit_code == 2
    assert out.stderr == (
        "Error: [email] username is set but $MY_SMTP_PW is empty: export the"
        " SMTP password in it ([email] password_env names the variable)\n"
    )


def test_login_without_auth_on_offer_is_explained(invoke) -> None:
    with smtp_server() as server:
        _config(server.port, "none", 'username = "digest"')
        assert _error(invoke, env={"DIGEST_SMTP_PASSWORD": "pw"}) == (
            f"Error: 127.0.0.1:{server.port} does not offer AUTH on this connection: many"
            ' servers offer login only after STARTTLS (security = "starttls")'
        )


def test_a_silent_server_times_out_with_a_hint(invoke) -> None:
    with silent_server() as port:
        Path("digest.toml").write_text(
            f'[email]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
            "timeout = 0.2\n"
        )
        assert _error(invoke) == f"Error: 127.0.0.1:{port} did not answer within 0.2 s"


def test_check_with_the_file_backend_checks_the_outbox(invoke) -> None:
    out = invoke("send", "--check")
    assert out.exit_code == 0
    assert out.stdout == (
        "  the outbox folder outbox/ is writable\n"
        'ok: the file backend writes messages to outbox/ (set backend = "smtp"'
        " to send)\n"
    )
    Path("digest.toml").write_text('[email]\noutbox_dir = "taken"\n')
    Path("taken").write_text("a file")
    assert _error(invoke).startswith("Error: cannot write to the outbox taken: ")


def test_smtp_backend_without_a_host_is_a_config_error(invoke) -> None:
    Path("digest.toml").write_text('[email]\nbackend = "smtp"\n')
    out = invoke("send", "--check")
    assert (out.exit_code, out.stderr) == (
        2,
        "Error: digest.toml:2: [email] backend"
        ' = "smtp" needs smtp_host (or use backend = "file")\n',
    )

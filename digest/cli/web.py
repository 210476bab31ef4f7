"""The readers' side: `digest web` (the application) and `digest site` (static files)."""

from __future__ import annotations

import click

from digest.cli.app import AppContext, cli, pass_app, setup_logging


@cli.command()
@click.option("--host", help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port, 8080).")
@pass_app
def web(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the readers' web application until stopped.

    Readers subscribe (confirming by email), manage their subscription,
    unsubscribe in one click (RFC 8058), read past digests and follow Atom
    feeds. Needs [web] public_url (the address readers see) and the signing
    key in the variable [web] secret_env names (default DIGEST_WEB_SECRET).
    Put it behind a reverse proxy for HTTPS (docs/web.md).

    \b
    Example:
      DIGEST_WEB_SECRET=... digest web --port 8080
    """
    from digest.web import create_app
    from digest.web.server import serve_forever

    settings = app.settings
    application = create_app(settings)
    app.db  # noqa: B018  (a bad --db fails here with one line, and is migrated once)
    setup_logging(app.verbose + 1, app.quiet)
    serve_forever(application, host or settings.web.host, port or settings.web.port)


@cli.command()
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the site into (created if missing).",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="The address the site will have (default: [web] public_url); feeds need it.",
)
@pass_app
def site(app: AppContext, output: str, base_url: str | None) -> None:
    """Write the archive and Atom feeds as a static site (no sign-up forms).

    The same pages as `digest web`: the latest digest, every past day, a page
    per tag and per paper, the feed of all digests and one per tag. Publish
    the folder on GitHub Pages or any static host.

    \b
    Example:
      digest site -o public --base-url https://you.github.io/papers
    """
    from pathlib import Path

    from digest.web.site import write_site

    count = write_site(app.read_db, app.settings, Path(output), base_url)
    click.echo(f"site: {count} files in {output}")

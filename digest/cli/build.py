"""`digest build`: the Markdown digest, or a preview of a subscriber's email."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.app import AppContext, cli, parse_date, pass_app
from digest.errors import DigestError
from digest.models import BACKENDS


@cli.command()
@click.option(
    "--since",
    help="Papers first seen on or after YYYY-MM-DD (default: the day the newest papers arrived).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="At most N papers (default: all); the digest says how many more there were.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "txt"]),
    default="md",
    show_default=True,
    help="md: the Markdown digest; html/txt: an email preview (with --subscriber).",
)
@click.option(
    "--subscriber", metavar="EMAIL", help="Preview exactly the email this subscriber would get now."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of standard output.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    help="Summariser for papers that lack a summary.",
)
@pass_app
def build(
    app: AppContext,
    since: str | None,
    limit: int | None,
    fmt: str,
    subscriber: str | None,
    output: Path | None,
    backend: str | None,
) -> None:
    """Render a digest of recent papers, or preview a subscriber's email.

    The Markdown digest summarises any paper that lacks a summary first. An
    email preview (--format html|txt --subscriber EMAIL) is exactly what
    `digest send` would mail that subscriber now; nothing is recorded.

    \b
    Example:
      digest build -o digest.md
      digest build --since 2026-11-01 --limit 20
      digest build --format html --subscriber ada@example.org -o preview.html
    """
    if fmt != "md" or subscriber:
        if fmt == "md" or not subscriber:
            raise click.UsageError("an email preview needs --format html|txt and --subscriber")
        if since or limit or backend:
            raise click.UsageError("--since, --limit and --backend do not apply to a preview")
        from digest.mail.delivery import preview_email

        text, count = preview_email(app.db, app.settings, subscriber, fmt), None
    else:
        from digest.backends import get_backend
        from digest.render.markdown import build_digest

        settings = app.load(backend=backend)
        chosen = get_backend(settings.llm.backend, settings)
        result = build_digest(
            app.db,
            app.settings,
            chosen,
            since=parse_date(since),
            limit=limit,
        )
        text, count = result.text, len(result.papers)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DigestError(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {output}" + (f" ({count} papers)" if count is not None else ""), err=True)

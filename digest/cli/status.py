"""`digest status`: what is stored, and what happened lately."""

from __future__ import annotations

import json

import click

from digest.cli.app import AppContext, cli, pass_app


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--subscriber",
    "subscribers",
    multiple=True,
    metavar="EMAIL",
    help="One line for this reader (repeatable).",
)
@click.option(
    "--all", "every_reader", is_flag=True, help="One line for every reader (slow with thousands)."
)
@pass_app
def status(
    app: AppContext, as_json: bool, subscribers: tuple[str, ...], every_reader: bool
) -> None:
    """Show counts of papers, summaries and sources, and recent activity.

    With more than 10 readers the subscribers section is a summary (counts,
    the latest digest day, the readers who need attention); --subscriber or
    --all print a line per reader.

    \b
    Example:
      digest status
      digest status --subscriber ada@example.org
    """
    from digest.status import collect

    report = collect(
        app.read_db, app.settings, subscribers=list(subscribers) or None, every_reader=every_reader
    )
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for section, lines in report["text"].items():
        click.echo(f"{section}:")
        for line in lines:
            click.echo(f"  {line}")

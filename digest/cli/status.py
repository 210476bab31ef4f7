"""`digest status`: what is stored, and what happened lately."""

from __future__ import annotations

import json

import click

from digest.cli import AppContext, cli, pass_app


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show counts of papers, summaries and sources, and recent activity.

    \b
    Example:
      digest status
    """
    from digest.status import collect

    report = collect(app.read_db, app.settings)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for section, lines in report["text"].items():
        click.echo(f"{section}:")
        for line in lines:
            click.echo(f"  {line}")

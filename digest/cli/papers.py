"""Commands about stored papers: ingest, papers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from digest.cli.app import AppContext, cli, parse_date, pass_app


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--source",
    type=click.Choice(["dumps", "hf", "arxiv"]),
    default="dumps",
    show_default=True,
    help="Where from: dump files, Hugging Face daily papers, arXiv.",
)
@click.option("--date", "day", help="hf/arxiv: fetch this day (YYYY-MM-DD).")
@click.option("--since", help="hf/arxiv: fetch every day since YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def ingest(
    app: AppContext,
    paths: tuple[Path, ...],
    source: str,
    day: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Load papers: trending-paper dumps (files or folders), or a live source.

    Papers already known are recorded as new sightings, not new papers; a
    file or reply ingested before (same content) is skipped. Bad files are
    reported and the others still load; the exit status is 1 if any failed.
    Without --date/--since, a live source fetches every day since its last
    successful fetch (at most [sources] catchup_days back).

    \b
    Example:
      digest ingest examples/dumps
      digest ingest new-dump.txt --json
      digest ingest --source hf --since 2026-11-01
    """
    if source == "dumps":
        if day or since:
            raise click.UsageError("--date and --since go with --source hf or arxiv")
        from digest.sources.ingest import ingest_paths

        targets = list(paths) or [Path(p) for p in app.settings.sources.dumps]
        if not targets:
            raise click.UsageError("no dumps given: pass files or folders, or set [sources] dumps")
        reports = ingest_paths(app.db, targets)
    else:
        if paths:
            raise click.UsageError(f"--source {source} takes no paths")
        if day and since:
            raise click.UsageError("give --date or --since, not both")
        from digest.sources.live import fetch_arxiv, fetch_hf

        fetch = fetch_hf if source == "hf" else fetch_arxiv
        reports = fetch(app.db, app.settings, date=parse_date(day), since=parse_date(since))
    failed = [r for r in reports if r.error]
    if as_json:
        files = [
            {
                "path": r.path,
                "entries": r.entries,
                "new": r.new,
                "known": r.known,
                "error": r.error,
                "skipped": r.skipped,
                "warnings": r.warnings,
            }
            for r in reports
        ]
        click.echo(
            json.dumps(
                {
                    "files": files,
                    "new": sum(r.new for r in reports),
                    "known": sum(r.known for r in reports),
                },
                indent=2,
            )
        )
    else:
        for r in reports:
            for warning in r.warnings:
                click.echo(f"warning: {warning}", err=True)
            if r.error:
                click.secho(f"failed  {r.error}", fg="red", err=True)
            elif r.skipped:
                click.echo(f"skipped {r.path}: already ingested ({r.entries} entries)")
            else:
                click.echo(
                    f"loaded  {r.path}: {r.entries} {'entry' if r.entries == 1 else 'entries'},"
                    f" {r.new} new, {r.known} already known"
                )
        skipped = sum(r.skipped for r in reports)
        click.echo(
            f"{sum(r.new for r in reports)} new papers, "
            f"{sum(r.known for r in reports)} already known"
            + (f", {skipped} unchanged" if skipped else "")
            + f", {len(failed)} failed"
        )
    if failed:
        sys.exit(1)


# The keys `papers --json` has always had, first and in their order; new keys follow.
_JSON_FIRST = (
    "id",
    "title",
    "abstract",
    "tags",
    "tldr",
    "summary",
    "backend",
    "model",
    "first_seen",
    "best_rank",
    "arxiv_id",
    "url",
    "authors",
    "upvotes",
    "rank",
    "fallback",
    "fallback_from",
)


@cli.command()
@click.option("--tag", "tag_name", help="Only papers with this tag.")
@click.option("--search", help="Full-text search in titles and abstracts.")
@click.option("--since", help="Only papers first seen on or after YYYY-MM-DD.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_app
def papers(
    app: AppContext,
    tag_name: str | None,
    search: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored papers, best rank first.

    \b
    Example:
      digest papers --tag diffusion --limit 5
      digest papers --search "sparse autoencoder" --json
    """
    from digest.render.view import paper_view, to_json
    from digest.store.summaries import listing

    if tag_name is not None and tag_name not in app.settings.tags:
        known = ", ".join(app.settings.tags)
        raise click.BadParameter(
            f"{tag_name!r} is not in the [tags] vocabulary ({known})", param_hint="--tag"
        )
    rows = listing(app.read_db, tag=tag_name, search=search, since=parse_date(since), limit=limit)
    hf_url = app.settings.digest.hf_url
    views = [paper_view(r, n, hf_url) for n, r in enumerate(rows, 1)]
    if as_json:
        out = []
        for r, view in zip(rows, views, strict=True):
            item = {
                **to_json(view),
                "backend": r["backend"],
                "model": r["model"],
                "best_rank": r["best_rank"],
                "url": r["url"],  # the source's own page (`links` has the readers')
                "rank": r["best_rank"],
                # An offline summary standing in for a model that failed: which one.
                "fallback": view.fallback,
                "fallback_from": r["fallback_from"],
            }
            out.append({**{k: item[k] for k in _JSON_FIRST}, **item})
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for view in views:
        tags = " ".join("#" + t for t in view.tags)
        click.echo(f"{view.id:>5}  {view.title}" + (f"  {tags}" if tags else ""))
    if not rows:
        click.echo("no papers match", err=True)

"""Commands about papers: ingest, summarize, tag, build, papers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from digest.cli import AppContext, cli
from digest.errors import DigestError

pass_app = click.make_pass_decorator(AppContext)


def _date(value: str | None) -> str | None:
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from None


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
        from digest.ingest import ingest_paths

        targets = list(paths) or [Path(p) for p in app.settings.sources.dumps]
        if not targets:
            raise click.UsageError("no dumps given: pass files or folders, or set [sources] dumps")
        reports = ingest_paths(app.db, targets)
    else:
        if paths:
            raise click.UsageError(f"--source {source} takes no paths")
        if day and since:
            raise click.UsageError("give --date or --since, not both")
        from digest.live import fetch_arxiv, fetch_hf

        fetch = fetch_hf if source == "hf" else fetch_arxiv
        reports = fetch(app.db, app.settings, date=_date(day), since=_date(since))
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
                    f"loaded  {r.path}: {r.entries} entries, {r.new} new, {r.known} already known"
                )
        skipped = sum(r.skipped for r in reports)
        click.echo(
            f"{sum(r.new for r in reports)} new papers, "
            f"{sum(r.known for r in reports)} already known"
            + (f", {skipped} files unchanged" if skipped else "")
            + f", {len(failed)} files failed"
        )
    if failed:
        sys.exit(1)


@cli.command()
@click.option(
    "--backend",
    type=click.Choice(["offline", "openai"]),
    help="Summariser (default: [llm] backend, offline).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Summarise at most N papers.")
@click.option("--force", is_flag=True, help="Summarise again papers already summarised.")
@pass_app
def summarize(app: AppContext, backend: str | None, limit: int | None, force: bool) -> None:
    """Write a TL;DR, a short summary and tags for papers that lack them.

    \b
    Example:
      digest summarize
      digest summarize --backend openai --limit 20
    """
    from digest.backends import get_backend
    from digest.store.runs import finish_run, start_run
    from digest.summarize import SummarizeReport, pending_papers, summarize_papers

    chosen = get_backend(backend or app.settings.llm.backend, app.settings)
    papers = pending_papers(app.db, chosen, force=force, limit=limit)
    if not papers:
        click.echo(f"nothing to summarise: every paper has a {chosen.name} summary")
        return
    tty, seen = sys.stderr.isatty(), {"done": 0, "logged": 0}

    def progress(r: SummarizeReport) -> None:
        """A line rewritten in place on a terminal; a log line every 10% otherwise."""
        line = (
            f"{r.done}/{r.total} papers"
            + (f", {r.cached} cached" if r.cached else "")
            + (f", {r.fell_back} fell back" if r.fell_back else "")
            + (
                f", {r.calls} calls, {r.input_tokens + r.output_tokens:,} tokens, cost {r.cost:.4f}"
                if r.calls
                else ""
            )
        )
        seen["done"] = r.done
        if tty:
            click.echo(f"\r{line:<78}", nl=False, err=True)
        elif r.done - seen["logged"] >= max(1, r.total // 10) or r.done == r.total:
            click.echo(f"progress: {line}", err=True)
            seen["logged"] = r.done

    run_id = start_run(app.db, "summarize")
    try:
        report = summarize_papers(app.db, chosen, papers, progress, run_id)
    except (DigestError, KeyboardInterrupt) as exc:
        if tty and seen["done"]:
            click.echo(err=True)
        failed = isinstance(exc, DigestError)
        finish_run(
            app.db,
            run_id,
            "failed" if failed else "interrupted",
            errors=[str(exc)] if failed else None,
            summarised=seen["done"],
        )
        raise
    if tty:
        click.echo(err=True)
    line = (
        f"summarised {report.done} papers with {chosen.name} ({chosen.model})"
        + (f", {report.fell_back} fell back to offline" if report.fell_back else "")
        + (
            f"; {report.calls} calls, {report.input_tokens:,} input + "
            f"{report.output_tokens:,} output tokens, cost {report.cost:.4f}"
            if report.calls
            else ""
        )
    )
    problems = ([report.stopped] if report.stopped else []) + report.errors
    finish_run(
        app.db,
        run_id,
        "partial" if report.fell_back else "ok",
        errors=problems[:100],
        line=line,
        summarised=report.done,
        fell_back=report.fell_back,
    )
    click.echo(line)
    for problem in problems[:10]:
        click.echo(f"warning: {problem}", err=True)
    if len(problems) > 10:
        click.echo(f"warning: ... and {len(problems) - 10} more", err=True)


@cli.command()
@click.argument("paper_ids", nargs=-1, type=int)
@click.option("--title", help="Tag a paper given here instead of a stored one.")
@click.option("--abstract", help="Its abstract (with --title).")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help='Read {"title": ..., "abstract": ...} JSON from standard input.',
)
@click.option("--backend", type=click.Choice(["offline", "openai"]), help="Tagger to use.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def tag(
    app: AppContext,
    paper_ids: tuple[int, ...],
    title: str | None,
    abstract: str | None,
    from_stdin: bool,
    backend: str | None,
    as_json: bool,
) -> None:
    """Print (and store) tags for stored papers, or tag a paper given directly.

    Tags always come from the configured vocabulary ([tags]).

    \b
    Example:
      digest tag 12 13
      digest tag --title "Sparse autoencoders" --abstract "We probe ..."
      echo '{"title": "...", "abstract": "..."}' | digest tag --stdin --json
    """
    from digest.tagging import tag_given, tag_stored

    chosen = backend or app.settings.llm.backend
    if from_stdin or title is not None:
        if paper_ids:
            raise click.UsageError("give paper ids or --title/--stdin, not both")
        given = _read_given(title, abstract, from_stdin)
        results = [tag_given(app.settings, chosen, *given)]
    else:
        if not paper_ids:
            raise click.UsageError("give paper ids (see `digest papers`), or --title/--stdin")
        results = tag_stored(app.db, app.settings, chosen, list(paper_ids))
    if as_json:
        click.echo(json.dumps(results if len(results) != 1 or paper_ids else results[0], indent=2))
        return
    for r in results:
        label = f"{r['id']:>5}  " if r.get("id") is not None else ""
        click.echo(f"{label}{' '.join('#' + t for t in r['tags'])}  {r['title']}")


def _read_given(title: str | None, abstract: str | None, from_stdin: bool) -> tuple[str, str]:
    if from_stdin:
        try:
            data = json.loads(sys.stdin.read())
        except json.JSONDecodeError as exc:
            raise DigestError(
                f"standard input is not JSON ({exc.msg}): "
                'send {"title": "...", "abstract": "..."}'
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("title"), str):
            raise DigestError('standard input must be {"title": "...", "abstract": "..."}')
        title, abstract = data["title"], data.get("abstract") or ""
        if not isinstance(abstract, str):
            raise DigestError('"abstract" must be a string')
    if not (title or "").strip():
        raise click.UsageError("--title must not be empty")
    return str(title), abstract or ""


@cli.command()
@click.option(
    "--since",
    help="Papers first seen on or after YYYY-MM-DD (default: the day the newest papers arrived).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most N papers.")
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
    type=click.Choice(["offline", "openai"]),
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
        from digest.delivery import preview_email

        text, count = preview_email(app.db, app.settings, subscriber, fmt), None
    else:
        from digest.backends import get_backend
        from digest.digests import build_digest

        chosen = get_backend(backend or app.settings.llm.backend, app.settings)
        result = build_digest(app.db, app.settings, chosen, since=_date(since), limit=limit)
        text, count = result.text, len(result.papers)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DigestError(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {output}" + (f" ({count} papers)" if count is not None else ""), err=True)


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
    from digest.store.summaries import listing

    rows = listing(app.db, tag=tag_name, search=search, since=_date(since), limit=limit)
    if as_json:
        keys = (
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
        )
        out = [{**{k: r[k] for k in keys}, "rank": r["best_rank"]} for r in rows]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for r in rows:
        tags = " ".join("#" + t for t in r["tags"])
        click.echo(f"{r['id']:>5}  {r['title']}" + (f"  {tags}" if tags else ""))
    if not rows:
        click.echo("no papers match", err=True)

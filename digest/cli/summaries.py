"""Commands that write summaries and tags: summarize, tag."""

from __future__ import annotations

import json
import sys

import click

from digest.cli.app import AppContext, cli, pass_app
from digest.errors import DigestError, InputError
from digest.models import BACKENDS, OFFLINE


@cli.command()
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
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
    from digest.summarize import (
        SummarizeReport,
        collapse,
        outcome_line,
        pending_ids,
        summarize_pending,
    )

    settings = app.load(backend=backend)
    chosen = get_backend(settings.llm.backend, settings)
    if not pending_ids(app.db, chosen, force=force, limit=1):
        click.echo(
            "nothing to summarise: every stored paper already has a summary"
            + (f" from {chosen.model}" if chosen.name != OFFLINE else "")
            + " (--force summarises again)"
        )
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
        report = summarize_pending(app.db, chosen, progress, run_id, force=force, limit=limit)
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
    line = outcome_line(report)
    problems = ([report.stopped] if report.stopped else []) + collapse(report.errors)
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
    if report.fell_back:
        sys.exit(1)  # partly failed: those papers have offline summaries for now


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
@click.option("--backend", type=click.Choice(BACKENDS), help="Tagger to use.")
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
    from digest.summarize.tagging import tag_given, tag_stored

    chosen = app.load(backend=backend).llm.backend
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
            raise InputError(
                f"standard input is not JSON ({exc.msg}): "
                'send {"title": "...", "abstract": "..."}'
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("title"), str):
            raise InputError('standard input must be {"title": "...", "abstract": "..."}')
        title, abstract = data["title"], data.get("abstract") or ""
        if not isinstance(abstract, str):
            raise InputError('"abstract" must be a string')
    if not (title or "").strip():
        raise click.UsageError("--title must not be empty")
    title, abstract = str(title), abstract or ""
    for name, text in (("title", title), ("abstract", abstract)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate such as "\ud800" from JSON
            raise InputError(f"the {name} holds invalid Unicode (a lone surrogate)") from None
    return title, abstract

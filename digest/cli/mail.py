"""Commands about email: subscribe, unsubscribe, subscribers, send."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from digest.cli.app import AppContext, cli, pass_app
from digest.models import MAX_PAPERS

if TYPE_CHECKING:
    from digest.models import Subscriber


@cli.command()
@click.argument("email")
@click.option("--name", help='How to greet the reader ("Hi NAME," at the top of each email).')
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="TAG",
    help="Papers with any of these tags (repeatable; see --match).",
)
@click.option(
    "--exclude-tag",
    "exclude_tags",
    multiple=True,
    metavar="TAG",
    help="Never papers with any of these tags (repeatable).",
)
@click.option(
    "--keyword",
    "keywords",
    multiple=True,
    metavar="TEXT",
    help="Papers whose title or abstract contains any of these (repeatable; see --match).",
)
@click.option(
    "--match",
    type=click.Choice(["all", "any"], case_sensitive=False),
    help="With both --tag and --keyword: a paper needs a tag AND a keyword (all, the "
    "default) or either one (any). Excluded tags always win.",
)
@click.option(
    "--frequency",
    type=click.Choice(["daily", "weekly"], case_sensitive=False),
    help="daily (the default) or weekly: one email a week with the week's best papers.",
)
@click.option(
    "--weekday",
    metavar="DAY",
    help="The day of a weekly email: mon, tue, wed, thu, fri, sat or sun (default mon).",
)
@click.option(
    "--max-papers",
    type=click.IntRange(1, MAX_PAPERS),
    help=f"At most N papers per email (1 to {MAX_PAPERS}; default: [digest] max_papers).",
)
@click.option(
    "--interests",
    metavar="TEXT",
    help="What the reader cares about, in their own words (commas between topics); "
    "their papers come best first, each with a reason.",
)
@click.option(
    "--like",
    "likes",
    multiple=True,
    metavar="ID",
    help="A paper the reader likes: a store id or arXiv id (repeatable; ranks similar papers up).",
)
@click.option(
    "--min-relevance",
    type=click.FloatRange(0, 1),
    metavar="X",
    help="Hold back papers scoring under X (0-1; about 0.05 for the lexical model). "
    "They are counted in `digest status`, not lost.",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Forget a known reader's settings not given here (back to every new paper, daily).",
)
@pass_app
def subscribe(
    app: AppContext,
    email: str,
    name: str | None,
    tags: tuple[str, ...],
    exclude_tags: tuple[str, ...],
    keywords: tuple[str, ...],
    max_papers: int | None,
    match: str | None,
    frequency: str | None,
    weekday: str | None,
    interests: str | None,
    likes: tuple[str, ...],
    min_relevance: float | None,
    reset: bool,
) -> None:
    """Add a subscriber, or change the settings given of a known one.

    With no filters the reader gets every new paper. Tags match when a paper
    has any of them, keywords when it contains any of them; with both, --match
    says whether a paper needs both (all) or either (any). Subscribing again
    changes only the options given and resumes a paused or unsubscribed
    reader with their settings; --reset forgets the ones not given.
    With --interests or liked papers (--like, thumbs up) the papers come
    best first; likes and thumbs are kept until `digest feedback ... undo`.

    \b
    Example:
      digest subscribe ada@example.org --name Ada --tag diffusion --tag 3d
      digest subscribe bob@example.org --keyword "sparse autoencoder" --max-papers 10
      digest subscribe eve@example.org --tag llm --keyword agents --match any
      digest subscribe joe@example.org --frequency weekly --weekday mon
      digest subscribe max@example.org --interests "text VAEs, latent variable models"
      digest subscribe max@example.org --like 2401.12345 --min-relevance 0.05
    """
    from digest.errors import DigestError, InputError
    from digest.store.feedback import find_paper, set_vote
    from digest.store.subscribers import get_subscriber, save_subscriber
    from digest.subscriptions import keep_unless_given, make_subscriber

    try:
        known = None if reset else get_subscriber(app.db, email)
    except DigestError:
        known = None  # a new address (or a bad one, which make_subscriber names)
    given = {
        "name": name,
        "tags": tags,
        "exclude_tags": exclude_tags,
        "keywords": keywords,
        "max_papers": max_papers,
        "frequency": frequency,
        "weekday": weekday,
        "match": match,
        "interests": interests,
        "min_relevance": min_relevance,
    }
    try:
        sub = make_subscriber(
            email, vocabulary=app.settings.vocabulary, **keep_unless_given(known, given)
        )
        liked = [find_paper(app.db, ident) for ident in likes]  # all found before saving
    except DigestError as exc:  # a bad address, tag or paper on the command line
        raise InputError(str(exc)) from None
    sub_id, what = save_subscriber(app.db, sub, touch=True)
    for paper in liked:
        set_vote(app.db, sub_id, paper["id"], 1, "like")
    verb = {"created": "subscribed", "updated": "updated", "unchanged": "already subscribed:"}
    if known is not None and not known.active:
        verb["updated"] = "resumed"
    click.echo(f"{verb[what]} {sub.email}" + (f" ({_describe(sub)})" if _describe(sub) else ""))
    for paper in liked:
        click.echo(f"  likes {paper['title']!r}")


@cli.command()
@click.argument("email")
@pass_app
def unsubscribe(app: AppContext, email: str) -> None:
    """Stop sending email to an address (what it was sent is kept).

    \b
    Example:
      digest unsubscribe ada@example.org
    """
    from digest.store.subscribers import unsubscribe as stop

    if stop(app.db, email):
        click.echo(f"unsubscribed {email.strip().lower()}")
    else:
        click.echo(f"{email.strip().lower()} was already unsubscribed")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_app
def subscribers(app: AppContext, as_json: bool) -> None:
    """List subscribers with their filters ([[subscribers]] in the config are added first).

    \b
    Example:
      digest subscribers
      digest subscribers --json
    """
    from digest.roster import sync_config_subscribers
    from digest.store.subscribers import list_subscribers

    sync_config_subscribers(app.db, app.settings)
    subs = list_subscribers(app.db)
    if as_json:
        out = [
            {
                "email": s.email,
                "name": s.name,
                "active": s.active,
                "state": s.state,
                "tags": list(s.tags),
                "exclude_tags": list(s.exclude_tags),
                "keywords": list(s.keywords),
                "max_papers": s.max_papers,
                "match": s.match,
                "frequency": s.frequency,
                "weekday": s.weekday,
                "interests": s.interests,
                "min_relevance": s.min_relevance,
            }
            for s in subs
        ]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for s in subs:
        state = "" if s.active else f"  ({s.state})"
        name = f" ({s.name})" if s.name else ""
        click.echo(f"{s.email}{name}: {_describe(s) or 'every new paper'}{state}")
    if not subs:
        click.echo("no subscribers: add one with `digest subscribe EMAIL`", err=True)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show who would get what; send and record nothing.")
@click.option("--subscriber", metavar="EMAIL", help="Only this subscriber.")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Connect, negotiate TLS, log in and quit without sending.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also email readers who already got today's digest (the papers new since).",
)
@pass_app
def send(
    app: AppContext, dry_run: bool, subscriber: str | None, check_only: bool, force: bool
) -> None:
    """Email each subscriber the papers not yet delivered to them.

    A paper counts as delivered once the server accepted the message; a
    digest that failed temporarily is sent again (same Message-ID) next
    time. With the default file backend, messages are written to the
    outbox folder. Each reader gets at most one email per digest day
    (--force sends another). Another send in progress is waited for.
    Exit status 1 if any email was not sent.

    \b
    Example:
      digest send --dry-run
      digest send --subscriber ada@example.org
      digest send --check
    """
    from digest.mail.delivery import send_digests
    from digest.mail.transport import check
    from digest.roster import sync_config_subscribers

    if check_only:
        verdict = check(app.settings, progress=lambda line: click.echo(f"  {line}"))
        click.echo(verdict)
        return
    app.load(sending=not dry_run)  # the relay's password and the links' key are set
    for change in sync_config_subscribers(app.db, app.settings):
        click.echo(change, err=True)
    report = send_digests(app.db, app.settings, dry_run=dry_run, subscriber=subscriber, force=force)
    if not report.outcomes:
        click.echo("no active subscribers: add one with `digest subscribe EMAIL`")
        return
    for outcome in report.outcomes:
        failed = outcome.status in ("failed", "pending", "skipped")
        click.secho(outcome.line, fg="red" if failed else None, err=failed)
    click.echo(report.line)
    if not report.ok:
        sys.exit(1)


def _describe(sub: Subscriber) -> str:
    from digest.cadence import describe

    parts = [] if sub.frequency == "daily" else [describe(sub.frequency, sub.weekday)]
    if sub.tags:
        parts.append("tags: " + ", ".join(sub.tags))
    if sub.exclude_tags:
        parts.append("not: " + ", ".join(sub.exclude_tags))
    if sub.keywords:
        either = "or " if sub.tags and sub.match == "any" else ""
        parts.append(f"{either}keywords: " + ", ".join(sub.keywords))
    if sub.max_papers:
        parts.append(f"at most {sub.max_papers} papers")
    if sub.interests:
        parts.append(f"interests: {sub.interests}")
    if sub.min_relevance is not None:
        parts.append(f"min relevance {sub.min_relevance:g}")
    return "; ".join(parts)

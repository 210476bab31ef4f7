"""`digest feedback`: the operator records a reader's thumbs up or down (or undoes one)."""

from __future__ import annotations

import click

from digest.cli.app import AppContext, cli, pass_app

_VOTES = {"up": 1, "down": -1, "undo": 0}


@cli.command()
@click.argument("email")
@click.argument("paper")
@click.argument("vote", type=click.Choice(list(_VOTES), case_sensitive=False))
@pass_app
def feedback(app: AppContext, email: str, paper: str, vote: str) -> None:
    """Record a reader's thumbs up or down on a paper, or undo it.

    PAPER is a store id or an arXiv id (`digest papers` lists them). Thumbs
    change the order of the reader's next emails: papers like the ones rated
    up come first, like the ones rated down later. The same vote twice is
    one vote.

    \b
    Example:
      digest feedback ada@example.org 2401.12345 up
      digest feedback ada@example.org 17 down
      digest feedback ada@example.org 17 undo
    """
    from digest.errors import DigestError, InputError
    from digest.store.feedback import find_paper, set_vote
    from digest.store.subscribers import get_subscriber

    try:
        sub = get_subscriber(app.db, email)
        found = find_paper(app.db, paper)
    except DigestError as exc:
        raise InputError(str(exc)) from None
    what = set_vote(app.db, sub.id or 0, found["id"], _VOTES[vote.lower()], "cli")
    title = found["title"]
    words = {
        "recorded": f"{sub.email}: thumbs {vote.lower()} for {title!r}",
        "changed": f"{sub.email}: now thumbs {vote.lower()} for {title!r}",
        "unchanged": f"{sub.email}: already so for {title!r}"
        if vote != "undo"
        else f"{sub.email}: no vote on {title!r} to undo",
        "removed": f"{sub.email}: vote on {title!r} undone",
    }
    click.echo(words[what])

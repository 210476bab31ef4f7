"""Readers' feedback on papers: likes and thumbs, one vote per reader and paper.

A vote is +1 (a like, a thumbs up) or -1 (a thumbs down). Recording the same
vote twice changes nothing (a second click on the same link, a scanner
following it again): `set_vote` is idempotent. A new vote replaces the old
one; `undo` (vote 0) removes it. The ranking (digest/rank) reads them back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from digest.errors import InputError
from digest.identity import arxiv_key
from digest.store import utcnow

SOURCES = ("like", "config", "email", "web", "cli")
_STORE_ID = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Vote:
    paper_id: int
    vote: int  # +1 or -1
    source: str
    updated: str
    title: str = ""


def set_vote(
    db: Database, sub_id: int, paper_id: int, vote: int, source: str, now: str | None = None
) -> str:
    """Record `vote` (+1, -1, or 0 to undo) of a reader on a paper.

    Returns what happened: "recorded", "changed", "unchanged" or "removed"
    (or "unchanged" for an undo of nothing). One transaction, so two clicks
    at once still leave one vote.
    """
    if vote not in (-1, 0, 1):
        raise InputError(f"a vote is +1, -1 or 0 (undo), not {vote!r}")
    if source not in SOURCES:
        raise InputError(f"unknown feedback source {source!r}: one of {', '.join(SOURCES)}")
    now = now or utcnow()
    with db.atomic():
        row = db.execute(
            "SELECT vote FROM feedback WHERE subscriber_id = ? AND paper_id = ?",
            [sub_id, paper_id],
        ).fetchone()
        if vote == 0:
            if row is None:
                return "unchanged"
            db.execute(
                "DELETE FROM feedback WHERE subscriber_id = ? AND paper_id = ?", [sub_id, paper_id]
            )
            return "removed"
        if row is not None and row[0] == vote:
            return "unchanged"
        db.execute(
            "INSERT INTO feedback (subscriber_id, paper_id, vote, source, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET"
            " vote = excluded.vote, source = excluded.source, updated = excluded.updated",
            [sub_id, paper_id, vote, source, now, now],
        )
        return "recorded" if row is None else "changed"


def add_like(db: Database, sub_id: int, paper_id: int, source: str = "config") -> bool:
    """A like from the config, added only when the reader has no vote on the paper
    yet: a thumbs down given later must not be overwritten by every config sync."""
    with db.atomic():
        cur = db.execute(
            "INSERT OR IGNORE INTO feedback (subscriber_id, paper_id, vote, source, created,"
            " updated) VALUES (?, ?, 1, ?, ?, ?)",
            [sub_id, paper_id, source, utcnow(), utcnow()],
        )
        return cur.rowcount > 0


def votes(db: Database, sub_id: int) -> list[Vote]:
    """A reader's votes, newest first, with each paper's title."""
    rows = db.execute(
        "SELECT f.paper_id, f.vote, f.source, f.updated, p.title FROM feedback f"
        " JOIN papers p ON p.id = f.paper_id WHERE f.subscriber_id = ?"
        " ORDER BY f.updated DESC, f.paper_id",
        [sub_id],
    ).fetchall()
    return [Vote(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def all_votes(db: Database) -> dict[int, dict[int, int]]:
    """Every reader's votes: {subscriber id: {paper id: vote}} (one query per send)."""
    out: dict[int, dict[int, int]] = {}
    for sub_id, paper_id, vote in db.execute(
        "SELECT subscriber_id, paper_id, vote FROM feedback"
    ).fetchall():
        out.setdefault(sub_id, {})[paper_id] = vote
    return out


def find_paper(db: Database, ident: str) -> dict[str, Any]:
    """A stored paper by its store id (digits) or arXiv id; InputError saying how to find one."""
    value = (ident or "").strip()
    if _STORE_ID.match(value):
        rows = list(db.query("SELECT id, title, arxiv_id FROM papers WHERE id = ?", [int(value)]))
    else:
        rows = list(
            db.query(
                "SELECT id, title, arxiv_id FROM papers WHERE arxiv_id = ?", [arxiv_key(value)]
            )
        )
    if not rows:
        raise InputError(
            f"no stored paper {ident!r}: give a store id or an arXiv id from `digest papers`"
        )
    return rows[0]


def ranking_corpus(db: Database, since: str) -> list[tuple[int, str, str]]:
    """(id, title, abstract) of the papers a send may rank (first seen since `since`)
    and of every paper some reader voted on (their vectors steer the ranking)."""
    return db.execute(
        "SELECT id, title, abstract FROM papers WHERE first_seen >= ?"
        " OR id IN (SELECT paper_id FROM feedback) ORDER BY id",
        [since],
    ).fetchall()


def current_vote(db: Database, sub_id: int, paper_id: int) -> int:
    """The reader's vote on a paper: +1, -1, or 0 for none."""
    row = db.execute(
        "SELECT vote FROM feedback WHERE subscriber_id = ? AND paper_id = ?", [sub_id, paper_id]
    ).fetchone()
    return row[0] if row else 0


def paper_title(db: Database, paper_id: int) -> str | None:
    row = db.execute("SELECT title FROM papers WHERE id = ?", [paper_id]).fetchone()
    return row[0] if row else None

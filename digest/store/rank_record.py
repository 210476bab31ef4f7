"""What each reader's ranking rests on and what it last did, for `digest status`.

Counted from the record (votes, and the papers a send's ranking held back
under the reader's min_relevance), so the status never ranks again: ranking
may call an embeddings server, a status must not.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

# A reader is ranked when they gave interests or votes (digest.rank.Ranking.wants).
_RANKED = (
    "s.active AND (TRIM(COALESCE(s.interests, '')) != ''"
    " OR s.id IN (SELECT subscriber_id FROM feedback))"
)


@dataclass(frozen=True)
class RankRecord:
    liked: int  # papers the reader liked or thumbed up
    rated_down: int
    held_back: int | None  # under min_relevance at the last send; None: not ranked since


def note_held_back(
    db: Database, subscriber_id: int, count: int, min_relevance: float | None, interests: str | None
) -> None:
    """Record what a send's ranking held back for this reader, in one statement:
    written only when it changed (a steady reader costs no write), and only while
    the reader still has the floor and interests the send ranked with, so a send
    that started before they changed them (on the web, in the config) cannot
    store a count the new settings never produced."""
    db.execute(
        "UPDATE subscribers SET held_back = ? WHERE id = ? AND held_back IS NOT ?"
        " AND min_relevance IS ? AND interests IS ?",
        [count, subscriber_id, count, min_relevance, interests],
    )


def rank_records(db: Database) -> dict[int, RankRecord]:
    """Every active reader who is ranked, by subscriber id, in one query."""
    rows = db.execute(
        "SELECT s.id, COALESCE(SUM(f.vote > 0), 0), COUNT(f.vote) - COALESCE(SUM(f.vote > 0), 0),"
        f" s.held_back FROM subscribers s LEFT JOIN feedback f ON f.subscriber_id = s.id"
        f" WHERE {_RANKED} GROUP BY s.id"
    ).fetchall()
    return {r[0]: RankRecord(r[1], r[2], r[3]) for r in rows}


def ranked_readers(db: Database) -> int:
    """How many active readers are ranked by their interests or votes."""
    return db.execute(f"SELECT COUNT(*) FROM subscribers s WHERE {_RANKED}").fetchone()[0]

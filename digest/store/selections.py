"""Selections: the exact, ordered paper list of a digest, stored once and shared.

On most days most readers get the same papers (everyone without filters, and
everyone with the same tags), so a digest's list is stored once here and each
delivery points at it: a year of 12,000 readers holds a few hundred thousand
lists instead of tens of millions of (delivery, paper) rows. Why each paper is
in the digest (`reasons`, from the reader's interests; digest.rank) is part of
the list, so a retried digest says the same; readers without interests share.
"""

from __future__ import annotations

import hashlib
import json

from sqlite_utils import Database

from digest.errors import StoreError


def selection_id(db: Database, paper_ids: list[int], reasons: dict[int, str] | None = None) -> int:
    """The id of the selection holding exactly `paper_ids` (in order) and the
    reasons given for them, created if new.

    Call inside the write transaction that records the delivery using it.
    """
    papers = json.dumps([int(p) for p in paper_ids], separators=(",", ":"))
    why = {str(p): reasons[p] for p in paper_ids if reasons and reasons.get(p)}
    because = json.dumps(why, separators=(",", ":"), sort_keys=True) if why else None
    text = papers + "|" + (because or "")
    key = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)
    row = db.execute(
        "SELECT id FROM selections WHERE hash = ? AND papers = ? AND reasons IS ?",
        [key, papers, because],
    ).fetchone()
    if row:
        return row[0]
    cursor = db.execute(
        "INSERT INTO selections (hash, papers, reasons) VALUES (?, ?, ?)", [key, papers, because]
    )
    if cursor.lastrowid is None:
        raise StoreError("no id for the selection just stored")
    return cursor.lastrowid


def selection(db: Database, selection: int | None) -> tuple[list[int], dict[int, str]]:
    """The papers of a selection in the digest's order, and the reasons given."""
    if selection is None:
        return [], {}
    row = db.execute("SELECT papers, reasons FROM selections WHERE id = ?", [selection]).fetchone()
    if not row:
        return [], {}
    reasons = {int(k): v for k, v in json.loads(row[1]).items()} if row[1] else {}
    return json.loads(row[0]), reasons


def paper_ids(db: Database, selection_id: int | None) -> list[int]:
    """The papers of a selection, in the digest's order."""
    return selection(db, selection_id)[0]

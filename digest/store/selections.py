"""Selections: the exact, ordered paper list of a digest, stored once and shared.

On most days most readers get the same papers (everyone without filters, and
everyone with the same tags), so a digest's list is stored once here and each
delivery points at it: a year of 12,000 readers holds a few hundred thousand
lists instead of tens of millions of (delivery, paper) rows.
"""

from __future__ import annotations

import hashlib
import json

from sqlite_utils import Database


def selection_id(db: Database, paper_ids: list[int]) -> int:
    """The id of the selection holding exactly `paper_ids` (in order), created if new.

    Call inside the write transaction that records the delivery using it.
    """
    papers = json.dumps([int(p) for p in paper_ids], separators=(",", ":"))
    key = int.from_bytes(hashlib.sha256(papers.encode()).digest()[:8], "big", signed=True)
    row = db.execute(
        "SELECT id FROM selections WHERE hash = ? AND papers = ?", [key, papers]
    ).fetchone()
    if row:
        return row[0]
    return db.execute(
        "INSERT INTO selections (hash, papers) VALUES (?, ?)", [key, papers]
    ).lastrowid


def paper_ids(db: Database, selection: int | None) -> list[int]:
    """The papers of a selection, in the digest's order."""
    if selection is None:
        return []
    row = db.execute("SELECT papers FROM selections WHERE id = ?", [selection]).fetchone()
    return json.loads(row[0]) if row else []

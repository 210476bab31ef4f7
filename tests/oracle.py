"""What a test library holds, read with plain SQL and worked out in Python.

These are the oracles for tests that check what the code under test chose or
showed (a subscriber's papers, a day's page, a search). They never call the
store's own queries (`listing`, `select_papers`, `fts_query`): an expected
value built with the code under test agrees with it even when it is wrong.

The rules are written out here from their documentation, on purpose once more:
papers in best rank order (then first seen, then id); a keyword matches when
each of its words, stemmed, is among the stemmed words of the title or the
abstract (SQLite's porter tokenizer, which `digest papers --search` and the
subscribers' keywords use).
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

import snowballstemmer

_STEM = snowballstemmer.stemmer("porter")


def papers(db_path: Path | str) -> list[dict[str, Any]]:
    """Every paper with its summary's TL;DR and tags (None/[] if unsummarised),
    best rank first. The test libraries hold one summary per paper; a second
    would need the rule for which one is shown, so it is refused here."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        doubled = conn.execute(
            "SELECT paper_id FROM summaries GROUP BY paper_id HAVING COUNT(*) > 1"
        ).fetchall()
        if doubled:
            raise AssertionError(f"papers with two summaries: {[r[0] for r in doubled][:5]}")
        rows = conn.execute(
            "SELECT p.id, p.title, p.abstract, p.first_seen, p.best_rank, p.arxiv_id,"
            " s.tldr, s.tags FROM papers p LEFT JOIN summaries s ON s.paper_id = p.id"
            " ORDER BY p.best_rank, p.first_seen, p.id"
        ).fetchall()
    finally:
        conn.close()
    out = []
    for row in rows:
        paper = dict(row)
        paper["tags"] = json.loads(paper["tags"]) if paper["tags"] else []
        paper["day"] = paper["first_seen"][:10]
        out.append(paper)
    return out


def _stems(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return set(_STEM.stemWords(re.findall(r"[^\W_]+", plain)))


def mentions(paper: dict[str, Any], keyword: str) -> bool:
    """Whether `keyword` matches the paper's title or abstract (every word, stemmed)."""
    words = _STEM.stemWords(re.findall(r"[^\W_]+", keyword.lower()))
    title, abstract = _stems(paper["title"] or ""), _stems(paper["abstract"] or "")
    return bool(words) and all(w in title or w in abstract for w in words)

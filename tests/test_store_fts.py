"""The full-text index follows the papers' text, and only their text."""

from __future__ import annotations

from digest.store import open_memory


def test_full_text_index_follows_title_changes_but_not_other_updates() -> None:
    db = open_memory()
    db["papers"].insert(
        {
            "id": 1,
            "key": "a",
            "title": "Sparse autoencoders",
            "abstract": "We probe features.",
            "first_seen": "2026-01-01",
        }
    )
    match = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?"
    assert [r[0] for r in db.execute(match, ["sparse"])] == [1]
    db.execute("UPDATE papers SET last_seen = '2026-01-02', best_rank = 3 WHERE id = 1")
    assert [r[0] for r in db.execute(match, ["sparse"])] == [1]
    db.execute("UPDATE papers SET title = 'Dense transformers' WHERE id = 1")
    assert list(db.execute(match, ["sparse"])) == []
    assert [r[0] for r in db.execute(match, ["dense"])] == [1]
    db.execute("INSERT INTO papers_fts(papers_fts) VALUES ('integrity-check')")

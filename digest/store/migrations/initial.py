"""The first schema (m001-m009): papers and their summaries, the call log, runs,
subscribers and their deliveries, fetch state, links, full-text search.

Shipped steps: never edit one; add new ones to digest/store/migrations/later.py.
"""

from __future__ import annotations

from sqlite_utils import Database


def m001_papers(db: Database) -> None:
    db.table("papers").create(
        {
            "id": int,
            "key": str,  # identity.title_key(title): the one identity rule
            "arxiv_id": str,  # without version suffix, when a live source knows it
            "title": str,
            "abstract": str,
            "url": str,
            "authors": str,  # JSON list of names
            "upvotes": int,
            "published": str,
            "first_seen": str,  # UTC ISO timestamp of the first sighting
            "last_seen": str,
            "best_rank": int,
        },
        pk="id",
        not_null={"key", "title", "abstract", "first_seen"},
    )
    db.table("papers").create_index(["key"], unique=True)
    db.table("papers").create_index(["arxiv_id"], unique=True)
    db.table("papers").create_index(["first_seen"])
    db.table("sources").create(
        {
            "id": int,
            "kind": str,  # dump | hf | arxiv
            "location": str,  # file path or URL
            "content_hash": str,
            "ingested_at": str,
            "entries": int,
            "new": int,
            "known": int,
        },
        pk="id",
    )
    db.table("sources").create_index(["content_hash"], unique=True)
    db.table("sightings").create(
        {
            "id": int,
            "paper_id": int,
            "source_id": int,
            "rank": int,
            "listed": str,  # the date label above the entry in a dump, e.g. "Sep 9"
            "seen_at": str,
            "abstract_differs": int,  # 1 when this sighting's abstract differs from the stored one
        },
        pk="id",
        foreign_keys=[("paper_id", "papers", "id"), ("source_id", "sources", "id")],
    )
    db.table("sightings").create_index(["paper_id"])
    db.table("sightings").create_index(["source_id"])
    db.table("papers").enable_fts(["title", "abstract"], create_triggers=True, tokenize="porter")


def m002_summaries(db: Database) -> None:
    db.table("summaries").create(
        {
            "id": int,
            "paper_id": int,
            "backend": str,
            "model": str,
            "prompt_version": str,  # rule version (offline) or hash of the prompt templates
            "tldr": str,
            "summary": str,
            "tags": str,  # JSON list, every name in the configured vocabulary
            "created": str,
            "error": str,  # why the requested backend failed, when this is a fallback
            "fallback_from": str,  # the backend/model that failed, when this is a fallback
        },
        pk="id",
        foreign_keys=[("paper_id", "papers", "id")],
        not_null={"paper_id", "backend", "model", "prompt_version", "tldr", "summary", "tags"},
    )
    db.table("summaries").create_index(
        ["paper_id", "backend", "model", "prompt_version"], unique=True
    )


def m003_llm_calls(db: Database) -> None:
    db.table("llm_calls").create(
        {
            "id": int,
            "run_id": int,
            "paper_id": int,
            "backend": str,
            "model": str,
            "status": str,  # ok | invalid | error | repaired
            "input_tokens": int,
            "output_tokens": int,
            "latency_ms": float,
            "cost": float,
            "error": str,
            "created": str,
        },
        pk="id",
    )
    db.table("llm_calls").create_index(["run_id"])


def m004_runs(db: Database) -> None:
    db.table("runs").create(
        {
            "id": int,
            "kind": str,  # run | summarize | send | ingest
            "started": str,
            "ended": str,
            "status": str,  # running | ok | partial | failed | interrupted
            "pid": int,
            "papers_new": int,
            "summarised": int,
            "fell_back": int,
            "emails_sent": int,
            "emails_failed": int,
            "errors": str,  # JSON list of one-line messages
            "line": str,  # the one-line summary printed at the end
        },
        pk="id",
    )


def m005_mail(db: Database) -> None:
    db.table("subscribers").create(
        {
            "id": int,
            "email": str,
            "name": str,
            "tags": str,  # JSON lists
            "exclude_tags": str,
            "keywords": str,
            "max_papers": int,
            "active": int,
            "created": str,
            "updated": str,
        },
        pk="id",
        not_null={"email"},
    )
    db.table("subscribers").create_index(["email"], unique=True)
    db.table("deliveries").create(
        {
            "id": int,
            "subscriber_id": int,
            "message_id": str,  # stable for one subscriber's digest: a retry reuses it
            "digest_date": str,
            "status": str,  # pending | sent | failed (| superseded, m007)
            "attempts": int,
            "created": str,
            "sent_at": str,
            "error": str,
            "paper_count": int,
        },
        pk="id",
        foreign_keys=[("subscriber_id", "subscribers", "id")],
    )
    db.table("deliveries").create_index(["subscriber_id", "status"])
    # The one record of "delivered": a row here exists only once the SMTP
    # server accepted the message that carried the paper.
    db.table("delivered").create(
        {"subscriber_id": int, "paper_id": int, "delivery_id": int, "sent_at": str},
        pk=("subscriber_id", "paper_id"),
        foreign_keys=[
            ("subscriber_id", "subscribers", "id"),
            ("paper_id", "papers", "id"),
            ("delivery_id", "deliveries", "id"),
        ],
    )


def m006_fetch_state(db: Database) -> None:
    db.table("fetch_state").create(
        {
            "source": str,  # hf | arxiv
            "key": str,  # e.g. the day fetched, or the category
            "etag": str,
            "last_modified": str,
            "fetched_at": str,
            "status": str,  # ok | error
            "error": str,
        },
        pk=("source", "key"),
    )


def m007_mail_delivery_papers(db: Database) -> None:
    # The exact paper list of each digest, kept from the moment it is created,
    # so a retry after a failure or crash resends the same papers under the same
    # Message-ID. `delivered` still only gains rows once the server accepted.
    db.table("delivery_papers").create(
        {"delivery_id": int, "paper_id": int, "position": int},
        pk=("delivery_id", "paper_id"),
        foreign_keys=[("delivery_id", "deliveries", "id"), ("paper_id", "papers", "id")],
    )
    # A digest left pending before this step has no paper list to resend, and
    # two racing sends could leave two for one subscriber (which the index below
    # forbids, so the upgrade failed). None of their papers counted as delivered,
    # so marking them superseded loses nothing: the next send selects those
    # papers again, in a new digest. (Fixed in place: a database past this step
    # never runs it again, and one before it could not get past it.)
    db.execute("UPDATE deliveries SET status = 'superseded' WHERE status = 'pending'")
    # At most one unfinished digest per subscriber: two `digest send` at once
    # cannot both start one.
    db.execute(
        "CREATE UNIQUE INDEX idx_deliveries_one_pending ON deliveries (subscriber_id)"
        " WHERE status = 'pending'"
    )
    # When the current subscription began (re-subscribing resets it): a new
    # subscriber is not sent the whole backlog.
    db.table("subscribers").add_column("active_since", str)
    db.execute("UPDATE subscribers SET active_since = created")


def m008_paper_links(db: Database) -> None:
    # What Hugging Face's daily papers add about a paper (digest/sources/hf.py).
    db.table("papers").add_column("github_repo", str)
    db.table("papers").add_column("project_page", str)
    db.table("papers").add_column("ai_keywords", str)  # JSON list
    db.table("papers").add_column("num_comments", int)
    db.table("papers").add_column("thumbnail", str)


def m009_fts_update_only_on_text(db: Database) -> None:
    # sqlite-utils' FTS update trigger fires on any update of `papers`, so every
    # repeat sighting (which only touches last_seen/best_rank/...) re-indexed the
    # title and abstract: 4x slower ingest of known papers and a bloated index.
    # Re-index only when the indexed text itself changes.
    db.execute("DROP TRIGGER IF EXISTS papers_au")
    db.execute(
        'CREATE TRIGGER "papers_au" AFTER UPDATE OF "title", "abstract" ON "papers" BEGIN\n'
        '  INSERT INTO "papers_fts" ("papers_fts", rowid, "title", "abstract")'
        ' VALUES(\'delete\', old.rowid, old."title", old."abstract");\n'
        '  INSERT INTO "papers_fts" (rowid, "title", "abstract")'
        ' VALUES (new.rowid, new."title", new."abstract");\n'
        "END"
    )

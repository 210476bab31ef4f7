"""Schema steps since the first schema (m020 on): cadence, link lookups, the web,
relevance, the delivery record kept compact, pauses, what a floor held back.

Append-only: never edit a shipped step; add a new one at the end of this file
and to the list in digest/store/migrations/__init__.py.
"""

from __future__ import annotations

import itertools

from sqlite_utils import Database


def m020_subscriber_cadence(db: Database) -> None:
    # How often a subscriber is emailed (digest/cadence.py) and how their tag and
    # keyword filters combine; existing subscribers keep what they had.
    db.table("subscribers").add_column("frequency", str, not_null_default="daily")
    db.table("subscribers").add_column("weekday", str)  # mon..sun, weekly subscribers only
    db.table("subscribers").add_column("match", str, not_null_default="all")


def m021_link_lookups(db: Database) -> None:
    # Dump papers searched for on Hugging Face / arXiv by title (digest/store/links.py):
    # a miss is remembered so the same title is not searched for every run.
    db.table("link_lookups").create(
        {"paper_id": int, "checked_at": str, "found": str, "detail": str},
        pk="paper_id",
        foreign_keys=[("paper_id", "papers", "id")],
    )


def m030_web(db: Database) -> None:
    # Signed links in emails carry the subscriber's token_version; bumping it (on
    # unsubscribe) makes every older manage link stop working.
    db.table("subscribers").add_column("token_version", int, not_null_default=0)
    # Sign-ups from the web page wait here until the emailed link is clicked: only
    # then is a subscriber created or reactivated (double opt-in).
    db.table("signups").create(
        {
            "id": int,
            "email": str,
            "name": str,
            "tags": str,  # JSON list
            "keywords": str,  # JSON list
            "frequency": str,
            "created": str,
            "confirmed": str,  # when the link was clicked; a link works once
        },
        pk="id",
        not_null={"email", "created"},
    )
    db.table("signups").create_index(["email"])
    # Rate limits for the web forms: one row per attempt, keyed by address or client.
    db.table("web_hits").create({"key": str, "at": str}, not_null={"key", "at"})
    db.table("web_hits").create_index(["key", "at"])


def m050_llm_call_finish_reason(db: Database) -> None:
    # Why the model stopped ("stop", "length" at [llm] max_output_tokens, ...): a reply
    # cut at the bound is told apart from one that was merely wrong.
    db.table("llm_calls").add_column("finish_reason", str)


def m070_subscriber_last_sent(db: Database) -> None:
    # When each reader's last email was accepted, kept on the subscriber row:
    # a send serves the never-emailed first, then the longest-waiting (a run cut
    # short does not starve the same readers every day), without reading history.
    db.table("subscribers").add_column("last_sent", str)
    db.execute(
        "UPDATE subscribers SET last_sent = (SELECT MAX(sent_at) FROM deliveries d"
        " WHERE d.subscriber_id = subscribers.id AND d.status = 'sent')"
    )


def m040_relevance(db: Database) -> None:
    # What a reader cares about (digest/rank): interests in their own words and a
    # relevance floor; papers under it are held back (counted, never dropped).
    db.table("subscribers").add_column("interests", str)
    db.table("subscribers").add_column("min_relevance", float)
    # Why each paper of a digest is in it ("matches your interest in ..."), kept
    # with the paper list so a retried digest says the same.
    db.table("delivery_papers").add_column("reason", str)
    # One vote per reader and paper: +1 (a like, a thumbs up) or -1 (thumbs down).
    # `source` says where it came from: like | config | email | web | cli.
    db.table("feedback").create(
        {
            "subscriber_id": int,
            "paper_id": int,
            "vote": int,
            "source": str,
            "created": str,
            "updated": str,
        },
        pk=("subscriber_id", "paper_id"),
        foreign_keys=[("subscriber_id", "subscribers", "id"), ("paper_id", "papers", "id")],
        not_null={"vote", "source"},
    )
    # Paper vectors from an embeddings model, computed once per paper and model
    # (float32, little-endian, `dim` values).
    db.table("paper_embeddings").create(
        {"paper_id": int, "model": str, "dim": int, "vector": bytes, "created": str},
        pk=("paper_id", "model"),
        foreign_keys=[("paper_id", "papers", "id")],
        not_null={"dim", "vector"},
    )


def m071_delivery_indexes(db: Database) -> None:
    # Every per-reader question about deliveries (a pending digest, "sent on
    # this digest day?", a weekly reader's last email, the latest email) is
    # answered from this index in O(log n), however long the history; it
    # supersedes the (subscriber_id, status) index, which is its prefix.
    db.execute(
        "CREATE INDEX idx_deliveries_reader ON deliveries (subscriber_id, status, digest_date)"
    )
    db.execute("DROP INDEX IF EXISTS idx_deliveries_subscriber_id_status")
    # `digest status`'s summary counts the recent digests by state.
    db.execute("CREATE INDEX idx_deliveries_status ON deliveries (status, digest_date)")


def m072_compact_deliveries(db: Database) -> None:
    # Delivery state bounded by the window, not the history (digest/store/prune.py):
    # * `selections`: a digest's exact paper list (JSON array, in order) stored once
    #   and shared by every reader who got the same papers (most readers, most days);
    #   a delivery points at it instead of one `delivery_papers` row per paper.
    # * `delivery_archive`: a sent digest older than the window, reduced to what
    #   answers "what did reader X get on day D" (date, Message-ID, selection).
    # * `delivered` keeps only papers still inside the window; rebuilt WITHOUT ROWID
    #   and without the foreign key to deliveries (archiving a delivery must not
    #   scan it), its sent time being the delivery's.
    # * `delivery_papers` stays readable as a view.
    # * `pruned`: what was pruned, and the horizon before which no paper can be due.
    db.execute(
        "CREATE TABLE selections (id INTEGER PRIMARY KEY, hash INTEGER NOT NULL,"
        " papers TEXT NOT NULL, reasons TEXT)"
    )
    db.execute("CREATE INDEX idx_selections_hash ON selections (hash)")
    db.table("deliveries").add_column("selection_id", int)
    from digest.store.selections import selection_id

    # Streamed one digest at a time: a big history must not be held in memory.
    rows = db.conn.execute(
        "SELECT delivery_id, paper_id, reason FROM delivery_papers ORDER BY delivery_id, position"
    )
    current, ids, reasons = None, [], {}
    for delivery_id, paper_id, reason in itertools.chain(rows, [(None, None, None)]):
        if delivery_id != current and current is not None:
            db.execute(
                "UPDATE deliveries SET selection_id = ? WHERE id = ?",
                [selection_id(db, ids, reasons), current],
            )
            ids, reasons = [], {}
        current = delivery_id
        ids.append(paper_id)
        if reason:
            reasons[paper_id] = reason
    if db.execute("SELECT 1 FROM deliveries WHERE selection_id IS NULL LIMIT 1").fetchone():
        db.execute(
            "UPDATE deliveries SET selection_id = ? WHERE selection_id IS NULL",
            [selection_id(db, [])],
        )
    db.execute("DROP TABLE delivery_papers")
    db.execute(
        "CREATE TABLE delivered_new (subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),"
        " paper_id INTEGER NOT NULL REFERENCES papers(id), delivery_id INTEGER,"
        " PRIMARY KEY (subscriber_id, paper_id)) WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO delivered_new SELECT subscriber_id, paper_id, delivery_id FROM delivered"
    )
    db.execute("DROP TABLE delivered")
    db.execute("ALTER TABLE delivered_new RENAME TO delivered")
    db.execute(
        "CREATE TABLE delivery_archive (subscriber_id INTEGER NOT NULL, digest_date TEXT NOT NULL,"
        " id INTEGER NOT NULL, message_id TEXT, selection_id INTEGER,"
        " PRIMARY KEY (subscriber_id, digest_date, id)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE VIEW delivery_papers AS"
        " SELECT d.id AS delivery_id, j.value AS paper_id, j.key AS position,"
        " json_extract(s.reasons, '$.\"' || j.value || '\"') AS reason"
        " FROM deliveries d JOIN selections s ON s.id = d.selection_id, json_each(s.papers) j"
        " UNION ALL"
        " SELECT a.id, j.value, j.key, json_extract(s.reasons, '$.\"' || j.value || '\"')"
        " FROM delivery_archive a JOIN selections s ON s.id = a.selection_id,"
        " json_each(s.papers) j"
    )
    db.execute("CREATE TABLE pruned (what TEXT PRIMARY KEY, count INTEGER, at TEXT)")


def m080_subscriber_paused(db: Database) -> None:
    # A reader who paused on their manage page is not sent email (active = 0, as
    # before) but has not left: `paused` tells the two apart for the operator
    # (`digest subscribers`, `status`, `send`) and keeps their filters for the resume.
    db.table("subscribers").add_column("paused", int, not_null_default=0)


def m100_subscriber_held_back(db: Database) -> None:
    # How many due papers the reader's min_relevance held back when the last send
    # ranked their papers (NULL: not ranked since their settings last changed), so
    # `digest status` reports it from the record instead of ranking again.
    db.table("subscribers").add_column("held_back", int)

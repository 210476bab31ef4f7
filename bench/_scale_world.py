"""The simulated world of bench/scale.py: readers x days of papers and delivery
history written with the project's schema, and the query plans shown beside it.

Kept apart from the measuring script (bench/scale.py, whose docstring says how the
history is written and why) so each stays short.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import stamp, synthetic

from digest.config import Settings
from digest.store import open_db
from digest.store.prune import prune, prune_horizon
from digest.store.selections import selection_id
from digest.store.summaries import fts_query

T0 = datetime(2025, 1, 1, 7, 0, tzinfo=UTC)  # the first digest day, 07:00 UTC
PER_DAY, CAP, WINDOW = 60, 25, 7
KEYWORDS = (
    "diffusion",
    "agent",
    "reasoning",
    "benchmark",
    "video",
    "robot",
    "speech",
    "graph",
    "reinforcement",
    "retrieval",
    "3D",
    "language",
    "vision",
    "efficient",
    "attention",
    "alignment",
    "medical",
    "code",
    "math",
    "multimodal",
)
FULL = ([1000, 4000, 12000], [30, 90, 365])
QUICK = ([1000], [30, 90])


def build(path: Path, readers: int, days: int, seed: int = 1) -> dict[str, Any]:
    """A database with `days` days of papers and history for `readers` readers;
    the next send is on day `days` (its 60 papers arrived that morning)."""
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    db = open_db(path)
    settings = Settings()
    vocab = settings.vocabulary
    weights = [1 / (n + 1) for n in range(len(vocab))]  # a few tags are popular
    start = time.perf_counter()
    papers, summaries = [], []
    texts = synthetic((days + 1) * PER_DAY, seed)
    for day in range(days + 1):
        seen = (T0 + timedelta(days=day, hours=-1)).isoformat()
        for rank in range(1, PER_DAY + 1):
            pid = day * PER_DAY + rank
            title, abstract = next(texts)
            tags = sorted(set(rng.choices(vocab, weights, k=rng.randint(1, 3))))
            papers.append(
                {
                    "id": pid,
                    "key": f"k{pid}",
                    "title": title,
                    "abstract": abstract,
                    "first_seen": seen,
                    "last_seen": seen,
                    "best_rank": rank,
                }
            )
            summaries.append(
                {
                    "paper_id": pid,
                    "backend": "offline",
                    "model": "extractive",
                    "prompt_version": "bench",
                    "tldr": abstract.split(". ")[0][:200],
                    "summary": abstract[:400],
                    "tags": json.dumps(tags),
                    "created": seen,
                }
            )
    db["papers"].insert_all(papers, batch_size=2000)
    db["summaries"].insert_all(summaries, batch_size=2000)
    tags_of = {s["paper_id"]: set(json.loads(s["tags"])) for s in summaries}
    first_day = {p["id"]: (p["id"] - 1) // PER_DAY for p in papers}
    # Readers and their filters; readers with the same filters form one profile.
    subs, profile_of = [], []
    profiles: dict[tuple[str, tuple[str, ...]], int] = {}
    for n in range(readers):
        kind = "all" if n % 10 < 6 else ("tags" if n % 10 < 9 else "keywords")
        if kind == "tags":
            words = tuple(sorted(set(rng.choices(vocab, weights, k=rng.randint(1, 3)))))
        elif kind == "keywords":
            words = tuple(sorted(set(rng.choices(KEYWORDS, k=rng.randint(1, 2)))))
        else:
            words = ()
        profile_of.append(profiles.setdefault((kind, words), len(profiles)))
        joined = (T0 - timedelta(days=1)).isoformat()
        subs.append(
            {
                "id": n + 1,
                "email": f"reader{n:05d}@example.org",
                "tags": json.dumps(list(words) if kind == "tags" else []),
                "exclude_tags": "[]",
                "keywords": json.dumps(list(words) if kind == "keywords" else []),
                "active": 1,
                "created": joined,
                "updated": joined,
                "active_since": joined,
                "frequency": "daily",
                "match": "all",
                "last_sent": (T0 + timedelta(days=days - 1)).isoformat() if days else None,
            }
        )
    db["subscribers"].insert_all(subs, batch_size=2000)
    # What each profile matches, with the real index for keywords.
    matches: list[set[int] | None] = []
    for kind, words in profiles:
        if kind == "all":
            matches.append(None)
        elif kind == "tags":
            matches.append({p for p, t in tags_of.items() if t & set(words)})
        else:
            query = " OR ".join(f"({fts_query(k)})" for k in words)
            rows = db.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", [query])
            matches.append({r[0] for r in rows})
    # Day by day, what each profile was sent: due = in the window, matching, not sent yet.
    sent_by_day: list[list[list[int]]] = []  # profile -> day -> paper ids
    for match in matches:
        due: list[int] = []
        delivered: set[int] = set()
        days_sent = []
        for day in range(days):
            new = range(day * PER_DAY + 1, (day + 1) * PER_DAY + 1)
            due += [p for p in new if match is None or p in match]
            due = [p for p in due if first_day[p] > day - WINDOW and p not in delivered]
            due.sort(key=lambda p: ((p - 1) % PER_DAY, first_day[p], p))
            today, due = due[:CAP], due[CAP:]
            delivered.update(today)
            days_sent.append(today)
        sent_by_day.append(days_sent)
    send_now = T0 + timedelta(days=days)
    cut = prune_horizon(WINDOW, send_now)
    cut_day = cut[:10]
    known: dict[tuple[int, ...], int] = {}

    def shared(ids: list[int]) -> int | None:
        if not ids:
            return None
        if tuple(ids) not in known:
            known[tuple(ids)] = selection_id(db, ids)
        return known[tuple(ids)]

    with db.atomic():
        sel = [[shared(ids) for ids in d] for d in sent_by_day]
    archive, recent, done = [], [], []
    delivery_id = 0
    for n in range(readers):
        prof = profile_of[n]
        for day in range(days):
            ids = sent_by_day[prof][day]
            if not ids:
                continue
            delivery_id += 1
            date = (T0 + timedelta(days=day)).date().isoformat()
            mid = (
                f"<{date.replace('-', '')}T070000.{delivery_id % 10**6:06d}Z."
                f"{secrets.token_hex(5)}.digest@example.org>"
            )
            if date < cut_day:
                archive.append((n + 1, date, delivery_id, mid, sel[prof][day]))
                continue
            at = (T0 + timedelta(days=day, minutes=n % 60)).isoformat()
            recent.append((delivery_id, n + 1, mid, date, at, at, len(ids), sel[prof][day]))
            done += [(n + 1, p, delivery_id) for p in ids if papers[p - 1]["first_seen"] >= cut]
        if len(archive) > 200_000:
            _flush(db, archive, recent, done)
    _flush(db, archive, recent, done)
    prune(db, WINDOW, send_now)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return {
        "build_s": time.perf_counter() - start,
        "profiles": len(profiles),
        "deliveries": delivery_id,
        "size_mb": path.stat().st_size / 1e6,
        "send_now": send_now,
    }


def _flush(db: Any, archive: list, recent: list, done: list) -> None:
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO delivery_archive (subscriber_id, digest_date, id, message_id,"
            " selection_id) VALUES (?, ?, ?, ?, ?)",
            archive,
        )
        db.conn.executemany(
            "INSERT INTO deliveries (id, subscriber_id, message_id, digest_date, status,"
            " attempts, created, sent_at, paper_count, selection_id)"
            " VALUES (?, ?, ?, ?, 'sent', 1, ?, ?, ?, ?)",
            recent,
        )
        db.conn.executemany(
            "INSERT INTO delivered (subscriber_id, paper_id, delivery_id) VALUES (?, ?, ?)", done
        )
    archive.clear()
    recent.clear()
    done.clear()


# The per-reader questions a send and `digest status` ask, as the code asks them.
PLANS = {
    "pending digest (retry it first)": (
        "SELECT * FROM deliveries WHERE subscriber_id = ? AND status = 'pending'",
        [5],
    ),
    "sent on this digest day?": (
        "SELECT 1 FROM deliveries WHERE subscriber_id = ? AND digest_date = ?"
        " AND status = 'sent' LIMIT 1",
        [5, "2025-01-30"],
    ),
    "latest email (status)": (
        "SELECT sent_at, paper_count FROM deliveries WHERE subscriber_id = ? AND status = 'sent'"
        " ORDER BY digest_date DESC, id DESC LIMIT 1",
        [5],
    ),
    "weekly reader: last digest day": (
        "SELECT MAX(digest_date) FROM deliveries WHERE subscriber_id = ? AND status = 'sent'",
        [5],
    ),
    "rejected streak": (
        "SELECT error FROM deliveries WHERE subscriber_id = ? AND status = 'failed'"
        " AND created >= ? ORDER BY id DESC",
        [5, ""],
    ),
    "due papers": (
        "SELECT p.id FROM papers p WHERE p.first_seen >= ? AND NOT EXISTS"
        " (SELECT 1 FROM delivered d WHERE d.subscriber_id = ? AND d.paper_id = p.id)"
        " AND EXISTS (SELECT 1 FROM summaries s WHERE s.paper_id = p.id)"
        " ORDER BY p.best_rank, p.first_seen, p.id",
        ["2025-01-24", 5],
    ),
    "claim: papers already delivered": (
        "SELECT paper_id FROM delivered WHERE subscriber_id = ? AND paper_id IN (?, ?)",
        [5, 1, 2],
    ),
    "status: digests waiting for a retry": (
        "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
        [],
    ),
}


def plans(path: Path) -> str:
    """EXPLAIN QUERY PLAN of every per-reader query, as a Markdown section."""
    db = open_db(path)
    lines = [
        "## Scale: query plans",
        "",
        "`python bench/scale.py --plans`. `EXPLAIN QUERY PLAN` of the per-reader queries"
        " on a built database: each is a SEARCH on an index keyed by the reader (or, for"
        " the due papers, on `first_seen` within the window), never a SCAN of the history;"
        " the temporary B-trees sort only the window's papers or a reader's failed digests.",
        "",
    ]
    for name, (sql, params) in PLANS.items():
        steps = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
        lines += [f"- {name}:", "  ```", *[f"  {s}" for s in steps], "  ```"]
    db.conn.close()
    lines += ["", stamp()]
    return "\n".join(lines)

"""After a chaos run: what each subscriber should have received, against what arrived.

The expected set is worked out here from the store's papers, summaries and
subscriber rows with the rules of docs/email.md, not with digest's own
selection code: a paper is due to a subscriber when it has a summary, was
first seen within `max_age_days` and at most one day before the subscription
began, and passes the subscriber's filters (any of the tags, none of the
excluded tags, any keyword in the title or abstract through the full-text
index). Tags are those of the latest summary; a paper whose tags changed
(an offline fallback later summarised by the model) may also have gone out
under its earlier tags, so it is *allowed* but not *required*.

What arrived is read from the messages the SMTP server kept: each paper is
the "N. Title" line of the plain-text part (see templates/email.txt.j2).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos_servers import Kept

WELCOME_WINDOW = timedelta(days=1)  # docs/email.md: "at most one day before the subscription"
_ITEM = re.compile(r"(?m)^(\d+)\. (.+)$")
_COUNT = re.compile(r"\((\d+) papers?\)$")


@dataclass
class Received:
    """One kept message, parsed."""

    recipient: str
    message_id: str
    paper_ids: list[int]


@dataclass
class SubscriberResult:
    email: str
    filters: str
    emails: int  # messages received
    expected: int  # due at the end: must have arrived
    received: int  # distinct papers that arrived
    lost: list[str] = field(default_factory=list)  # titles due that never arrived
    twice: int = 0  # papers that arrived more than once
    twice_same_id: int = 0  # ... every copy in one message resent with the same Message-ID
    unexpected: list[str] = field(default_factory=list)  # arrived, never due
    recorded_not_received: int = 0  # the store says delivered, the server never kept it
    received_not_recorded: int = 0  # the server kept it, the store never recorded it


@dataclass
class Verdict:
    subscribers: list[SubscriberResult]
    integrity: str
    foreign_keys: int  # rows reported by PRAGMA foreign_key_check
    fts: str
    pending_deliveries: int
    anomalies: list[str]

    @property
    def lost(self) -> int:
        return sum(len(s.lost) for s in self.subscribers)

    @property
    def twice(self) -> int:
        return sum(s.twice for s in self.subscribers)

    @property
    def twice_other_id(self) -> int:
        return sum(s.twice - s.twice_same_id for s in self.subscribers)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.twice_other_id == 0
            and self.integrity == "ok"
            and self.foreign_keys == 0
            and self.fts == "ok"
            and not self.anomalies
            and all(
                not s.unexpected and not s.recorded_not_received and not s.received_not_recorded
                for s in self.subscribers
            )
        )


def check(
    db_path: Path,
    kept: list[Kept],
    subscribers: list[dict[str, Any]],
    max_age_days: int,
    now: datetime | None = None,
) -> Verdict:
    """Compare what every subscriber received with what they should have received."""
    now = now or datetime.now(UTC)
    conn = sqlite3.connect(str(db_path))
    try:
        integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        foreign_keys = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        try:
            conn.execute("INSERT INTO papers_fts(papers_fts) VALUES ('integrity-check')")
            fts = "ok"
        except sqlite3.DatabaseError as exc:
            fts = str(exc)
        anomalies: list[str] = []
        titles = {
            " ".join(t.split()): pid for pid, t in conn.execute("SELECT id, title FROM papers")
        }
        names = {pid: t for t, pid in titles.items()}
        arrived = [_parse(k, titles, anomalies) for k in kept]
        results = [
            _subscriber(
                conn,
                sub,
                [r for r in arrived if r.recipient == sub["email"]],
                names,
                now,
                max_age_days,
            )
            for sub in subscribers
        ]
        anomalies += _against_deliveries(conn, arrived)
        pending = conn.execute("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
        return Verdict(results, integrity, foreign_keys, fts, pending.fetchone()[0], anomalies)
    finally:
        conn.close()


def _parse(kept: Kept, titles: dict[str, int], anomalies: list[str]) -> Received:
    msg = email.message_from_bytes(kept.data, policy=email.policy.default)
    message_id = str(msg["Message-ID"] or "").strip()
    to = msg["To"].addresses[0].addr_spec.lower() if msg["To"] else ""
    if kept.rcpt_tos != [to]:
        anomalies.append(f"{message_id}: To {to} but envelope recipients {kept.rcpt_tos}")
    text = msg.get_body(preferencelist=("plain",)).get_content()
    items = _ITEM.findall(text)
    ids = []
    for n, (rank, title) in enumerate(items, 1):
        if int(rank) != n:
            anomalies.append(f"{message_id}: item {n} is numbered {rank}")
        if title.strip() not in titles:
            anomalies.append(f"{message_id}: names a paper not in the store: {title!r}")
            continue
        ids.append(titles[title.strip()])
    count = _COUNT.search(str(msg["Subject"]))
    if not count or int(count.group(1)) != len(items):
        anomalies.append(f"{message_id}: subject {msg['Subject']!r} but {len(items)} papers")
    return Received(to, message_id, ids)


def _subscriber(
    conn: sqlite3.Connection,
    sub: dict[str, Any],
    arrived: list[Received],
    names: dict[int, str],
    now: datetime,
    max_age_days: int,
) -> SubscriberResult:
    row = conn.execute(
        "SELECT id, active_since FROM subscribers WHERE email = ?", [sub["email"]]
    ).fetchone()
    copies: dict[int, list[str]] = defaultdict(list)
    for message in arrived:
        for pid in message.paper_ids:
            copies[pid].append(message.message_id)
    must: set[int] = set()
    may: set[int] = set()
    recorded: set[int] = set()
    if row is not None:
        sub_id, active_since = row
        since = now - timedelta(days=max_age_days)
        if active_since:
            since = max(since, datetime.fromisoformat(active_since) - WELCOME_WINDOW)
        must, may = _due(conn, sub, since.replace(microsecond=0).isoformat())
        recorded = {
            r[0]
            for r in conn.execute(
                "SELECT paper_id FROM delivered WHERE subscriber_id = ?", [sub_id]
            )
        }
    got = set(copies)
    twice = {pid: ids for pid, ids in copies.items() if len(ids) > 1}
    return SubscriberResult(
        email=sub["email"],
        filters=describe(sub),
        emails=len(arrived),
        expected=len(must),
        received=len(got),
        lost=sorted(names[p] for p in must - got),
        twice=len(twice),
        twice_same_id=sum(len(set(ids)) == 1 for ids in twice.values()),
        unexpected=sorted(names[p] for p in got - may - must),
        recorded_not_received=len(recorded - got),
        received_not_recorded=len(got - recorded),
    )


def _due(conn: sqlite3.Connection, sub: dict[str, Any], since: str) -> tuple[set[int], set[int]]:
    """(papers due under their latest tags, papers due under the tags of any summary)."""
    rows = conn.execute(
        "SELECT p.id, s.tags FROM papers p JOIN summaries s ON s.paper_id = p.id"
        " WHERE p.first_seen >= ? ORDER BY p.id, s.created DESC, s.id DESC",
        [since],
    ).fetchall()
    tag_sets: dict[int, list[set[str]]] = defaultdict(list)  # latest first
    for pid, tags in rows:
        tag_sets[pid].append(set(json.loads(tags or "[]")))
    matching = set(tag_sets)
    if sub.get("keywords"):
        query = " OR ".join(
            "(" + " ".join(f'"{w}"' for w in k.replace('"', "").split()) + ")"
            for k in sub["keywords"]
        )
        matching &= {
            r[0]
            for r in conn.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", [query])
        }

    def passes(tags: set[str]) -> bool:
        wanted, unwanted = set(sub.get("tags", [])), set(sub.get("exclude_tags", []))
        return (not wanted or bool(tags & wanted)) and not tags & unwanted

    must = {p for p in matching if passes(tag_sets[p][0])}
    may = {p for p in matching if any(passes(t) for t in tag_sets[p])}
    return must, may


def _against_deliveries(conn: sqlite3.Connection, arrived: list[Received]) -> list[str]:
    """Every message that arrived is a digest the store marked sent, with the same papers."""
    problems = []
    for message in arrived:
        row = conn.execute(
            "SELECT id, status FROM deliveries WHERE message_id = ?", [message.message_id]
        ).fetchone()
        if row is None:
            problems.append(f"{message.message_id}: arrived but no digest has this Message-ID")
            continue
        papers = [
            r[0]
            for r in conn.execute(
                "SELECT paper_id FROM delivery_papers WHERE delivery_id = ? ORDER BY position",
                [row[0]],
            )
        ]
        if row[1] != "sent":
            problems.append(f"{message.message_id}: arrived but its digest is {row[1]}")
        if papers != message.paper_ids:
            problems.append(f"{message.message_id}: papers differ from its recorded digest")
    return problems


def describe(sub: dict[str, Any]) -> str:
    """A subscriber's filters in words, for the report."""
    parts = []
    if sub.get("tags"):
        parts.append("tags " + " or ".join(sub["tags"]))
    if sub.get("exclude_tags"):
        parts.append("not " + " or ".join(sub["exclude_tags"]))
    if sub.get("keywords"):
        parts.append("keyword " + " or ".join(f'"{k}"' for k in sub["keywords"]))
    return ", ".join(parts) or "everything"


def count_messages(kept: list[Kept]) -> Counter[str]:
    """Messages kept per Message-ID (more than 1: a resend)."""
    ids: Counter[str] = Counter()
    for k in kept:
        msg = email.message_from_bytes(k.data, policy=email.policy.default)
        ids[str(msg["Message-ID"]).strip()] += 1
    return ids

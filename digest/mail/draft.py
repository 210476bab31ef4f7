"""The selection step of a send: what one reader is due now, before anything is recorded.

One function, `draft_for`, decides it: a pending digest (left by a failure or a
crash) is retried as it was; a reader who already got this digest day's email
gets nothing (`force` overrides); otherwise the due papers (digest.store.
subscribers.select_papers: window, filters, cadence) are ranked for the reader
(digest.rank) before the max_papers cut. `digest send` and the email preview
both use it, so a preview shows exactly what would be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.errors import DigestError
from digest.models import Subscriber
from digest.rank import Ranking
from digest.roster import limits, nothing_due
from digest.store.deliveries import Delivery, pending_delivery, sent_on_day
from digest.store.due import select_papers
from digest.store.summaries import listing
from digest.text import plural

ALREADY = "already sent the digest"


@dataclass
class Draft:
    delivery: Delivery | None  # the pending digest being retried, if any
    paper_ids: list[int]
    digest_date: str
    reason: str  # why nothing is due, when nothing is
    waiting: bool = False  # a weekly subscriber on another day
    reasons: dict[int, str] = field(default_factory=dict)  # why each paper is in it
    held_back: str = ""  # the papers under the reader's min relevance, in words
    held: int | None = None  # how many, when the reader's papers were ranked now


def reader_id(sub: Subscriber) -> int:
    if sub.id is None:
        raise DigestError(f"{sub.email} is not a stored subscriber: `digest subscribe` it first")
    return sub.id


def draft_for(
    db: Database,
    settings: Settings,
    sub: Subscriber,
    now: datetime,
    day: str,
    ranking: Ranking,
    *,
    force: bool,
) -> Draft:
    """What `sub` is due now (or why nothing), before anything is recorded."""
    pending = pending_delivery(db, reader_id(sub))
    if pending is not None:
        return Draft(pending, pending.paper_ids, pending.digest_date, "", reasons=pending.reasons)
    if not force and sent_on_day(db, reader_id(sub), day):
        return Draft(None, [], day, f"{ALREADY} of {day} (`digest send --force` sends another)")
    selection = select_papers(db, sub, now, limits(settings))
    waiting = selection.waits_until is not None
    if waiting:
        return Draft(None, [], day, nothing_due(selection, sub), waiting)
    # Ranked before the cap: the reader's best papers go first, the rest roll over.
    plan = ranking.plan(sub, selection.due, selection.cap)
    held = ""
    reason = nothing_due(selection, sub)
    if plan.held_back:
        floor = f"min relevance {sub.min_relevance:g}"
        if plan.paper_ids:
            count = f"{plural(plan.held_back, 'paper')}"
            held = f"{count} under {floor} held back"
        else:
            reason = f"all {plan.held_back} due papers are under {floor} (held back)"
    return Draft(
        None,
        plan.paper_ids,
        day,
        reason,
        reasons=plan.reasons,
        held_back=held,
        held=plan.held_back,
    )


def papers_of(
    db: Database, ids: list[int], reasons: dict[int, str] | None = None
) -> list[dict[str, Any]]:
    """Papers with their latest summary (and why each is there), in the digest's own order."""
    if not ids:
        return []
    rows = {r["id"]: r for r in listing(db, paper_ids=ids)}
    return [{**rows[i], "reason": (reasons or {}).get(i)} for i in ids if i in rows]

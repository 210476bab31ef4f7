"""The log of model calls: one row per request, with tokens, latency and cost.

A paper's calls and its summary are written in one small transaction (by
digest/summarize/writer.py, the one writer), so a crash never leaves a paid-for call
unrecorded next to a summary, or a summary without the calls that made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from digest.models import LLMCall, Summary
from digest.secrets import scrub
from digest.store import utcnow
from digest.store.summaries import save_summary

SUMMARISING_RUNS = ("summarize", "run", "build", "tag")  # every kind that can call a model


def save_outcome(
    db: Database,
    paper_id: int,
    summary: Summary,
    calls: Sequence[LLMCall],
    *,
    run_id: int | None,
    backend: str,
    model: str,
    now: str | None = None,
) -> None:
    """Store a paper's summary (or fallback) and the calls behind it, atomically."""
    now = now or utcnow()
    with db.atomic():
        for call in calls:
            db.execute(
                "INSERT INTO llm_calls (run_id, paper_id, backend, model, status, input_tokens,"
                " output_tokens, latency_ms, cost, error, finish_reason, created)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    run_id,
                    paper_id,
                    backend,
                    model,
                    call.status,
                    call.input_tokens,
                    call.output_tokens,
                    round(call.latency_ms, 1),
                    call.cost,
                    scrub(call.error) if call.error else None,
                    call.finish_reason,
                    now,
                ],
            )
        save_summary(db, paper_id, summary, now)


def totals(db: Database, run_id: int | None = None) -> dict[str, Any]:
    """Calls, tokens and cost: of one run, or of all time (run_id None)."""
    where, params = ("run_id = ?", [run_id]) if run_id is not None else ("1", [])
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),"
        " COALESCE(SUM(cost), 0.0), COALESCE(SUM(status = 'error'), 0),"
        f" COALESCE(SUM(status = 'invalid'), 0) FROM llm_calls WHERE {where}",
        params,
    ).fetchone()
    keys = ("calls", "input_tokens", "output_tokens", "cost", "failed", "invalid")
    return dict(zip(keys, row, strict=True))


def last_summarising_run(db: Database) -> dict[str, Any] | None:
    """The newest run that could call a model (`summarize`, `run`, `build`, `tag`)."""
    marks = ",".join("?" * len(SUMMARISING_RUNS))
    rows = list(
        db.query(
            f"SELECT id, kind, started, status FROM runs WHERE kind IN ({marks})"
            " ORDER BY id DESC LIMIT 1",
            list(SUMMARISING_RUNS),
        )
    )
    return rows[0] if rows else None


def speeds(db: Database, run_id: int) -> list[tuple[str, int, int, float]]:
    """Per model in one run: (model, calls, output tokens, seconds of request time),
    counting only the calls that returned tokens."""
    return [
        (model, calls, tokens, seconds)
        for model, calls, tokens, seconds in db.execute(
            "SELECT model, COUNT(*), SUM(output_tokens), SUM(latency_ms) / 1000.0 FROM llm_calls"
            " WHERE run_id = ? AND output_tokens > 0 GROUP BY model ORDER BY model",
            [run_id],
        ).fetchall()
    ]


def any_call(db: Database) -> bool:
    """Whether any model call was ever recorded."""
    return db.execute("SELECT 1 FROM llm_calls LIMIT 1").fetchone() is not None

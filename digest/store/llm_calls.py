"""The log of model calls: one row per request, with tokens, latency and cost.

A paper's calls and its summary are written in one small transaction (by
digest/summarize/writer.py, the one writer), so a crash never leaves a paid-for call
unrecorded next to a summary, or a summary without the calls that made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.models import OFFLINE, LLMCall, Summary
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


def speed_lines(db: Database, run_id: int | None) -> list[str]:
    """Each model's speed in the last run that called one: output tokens per second of
    request time (prompt reading included, as a reader waits for it), from the call log.
    What a local model on this machine really does, and what a provider delivers."""
    if run_id is None:
        return []
    lines = []
    for model, calls, tokens, seconds in db.execute(
        "SELECT model, COUNT(*), SUM(output_tokens), SUM(latency_ms) / 1000.0 FROM llm_calls"
        " WHERE run_id = ? AND output_tokens > 0 GROUP BY model ORDER BY model",
        [run_id],
    ).fetchall():
        if seconds:
            lines.append(
                f"speed of {model}: {tokens / seconds:.1f} output tokens/s"
                f" ({tokens:,} tokens in {seconds:.1f} s over {calls} calls)"
            )
    return lines


def _line(figures: dict[str, Any], priced: bool) -> str:
    line = (
        f"{figures['calls']:,} calls, {figures['input_tokens']:,} input + "
        f"{figures['output_tokens']:,} output tokens"
    )
    if priced:
        line += f", cost {figures['cost']:.4f}"
    problems = [f"{figures['failed']} failed"] if figures["failed"] else []
    problems += [f"{figures['invalid']} invalid replies"] if figures["invalid"] else []
    return line + (f" ({', '.join(problems)})" if problems else "")


def status_lines(db: Database, settings: Settings) -> list[str]:
    """`digest status` lines about model use: the last run and all time."""
    priced = bool(settings.llm.price_input_per_mtok or settings.llm.price_output_per_mtok)
    if (
        settings.llm.backend == OFFLINE
        and not db.execute("SELECT 1 FROM llm_calls LIMIT 1").fetchone()
    ):
        return [
            'backend offline (extractive, no model calls); set [llm] backend = "openai"'
            " to use a model"
        ]
    if settings.llm.backend == "local":
        lines = [f"backend local, model_path {settings.llm.model_path or '(not set)'}"]
    else:
        lines = [f"backend {settings.llm.backend}, model {settings.llm.model}"]
    run = last_summarising_run(db)
    if run is not None:
        lines.append(
            f"last run #{run['id']} ({run['kind']}, {run['started']}, {run['status']}): "
            + _line(totals(db, run["id"]), priced)
        )
    lines.append("in total: " + _line(totals(db), priced))
    lines += speed_lines(db, run["id"] if run is not None else None)
    if not priced:
        lines.append("cost not tracked: set [llm] price_input_per_mtok and price_output_per_mtok")
    return lines

"""`digest status` in words about model use: the backend, the last run that
could call a model, all time, and each model's speed (from the call log)."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from digest.config import Settings
from digest.models import OFFLINE
from digest.store.llm_calls import any_call, last_summarising_run, speeds, totals


def model_call_lines(db: Database, settings: Settings) -> list[str]:
    """`digest status` lines about model use: the last run and all time."""
    priced = bool(settings.llm.price_input_per_mtok or settings.llm.price_output_per_mtok)
    if settings.llm.backend == OFFLINE and not any_call(db):
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


def speed_lines(db: Database, run_id: int | None) -> list[str]:
    """Each model's speed in the last run that called one: output tokens per second of
    request time (prompt reading included, as a reader waits for it), from the call log.
    What a local model on this machine really does, and what a provider delivers."""
    if run_id is None:
        return []
    return [
        f"speed of {model}: {tokens / seconds:.1f} output tokens/s"
        f" ({tokens:,} tokens in {seconds:.1f} s over {calls} calls)"
        for model, calls, tokens, seconds in speeds(db, run_id)
        if seconds
    ]


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

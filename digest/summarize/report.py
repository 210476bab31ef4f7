"""What a summarising pass did, counted as it goes, and said in a line."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SummarizeReport:
    backend: str
    model: str
    total: int = 0
    done: int = 0
    fell_back: int = 0
    cached: int = 0
    errors: list[str] = field(default_factory=list)
    # Model use, from the calls the backend made (none for the offline backend).
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    stopped: str | None = None  # why the rest of the run used the offline backend


def collapse(errors: list[str]) -> list[str]:
    """Per-paper errors ("paper 12: reason") with one cause told once, with a count:
    ten papers failing the same way are one line, not ten."""
    papers: dict[str, list[str]] = {}
    other: list[str] = []
    for error in errors:
        head, _, reason = error.partition(": ")
        if head.startswith("paper ") and reason:
            papers.setdefault(reason, []).append(head.removeprefix("paper "))
        else:
            other.append(error)
    lines = []
    for reason, ids in papers.items():
        if len(ids) == 1:
            lines.append(f"paper {ids[0]}: {reason}")
        else:
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            lines.append(f"{len(ids)} papers: {reason} (papers {shown})")
    return other + lines


def outcome_line(report: SummarizeReport) -> str:
    """What `summarize` did, in one line: how many papers each backend wrote."""
    used = f"{report.backend} ({report.model})"
    if report.fell_back:
        line = (
            f"summarised {report.done} papers: {report.done - report.fell_back} with {used},"
            f" {report.fell_back} with the offline backend instead"
        )
    else:
        line = f"summarised {report.done} papers with {used}"
    if report.calls:
        line += (
            f"; {report.calls} calls, {report.input_tokens:,} input + "
            f"{report.output_tokens:,} output tokens, cost {report.cost:.4f}"
        )
    return line

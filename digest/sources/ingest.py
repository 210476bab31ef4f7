"""Ingest trending-paper dumps: every file on its own, in its own transaction.

A bad file is reported (one line naming it) and the others are still
ingested; a file whose exact content was ingested before is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlite_utils import Database

from digest.errors import DumpError
from digest.models import IngestReport
from digest.sources.dumps import file_hash, find_dumps, parse_dump
from digest.store.papers import record_entries, source_by_hash


def ingest_paths(db: Database, paths: Sequence[str | Path]) -> list[IngestReport]:
    """Ingest every dump file in `paths` (files or folders); one report per file."""
    reports: list[IngestReport] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            reports.append(IngestReport(str(path), error=f"{path}: no such file or folder"))
            continue
        files = find_dumps([path])
        if path.is_dir() and not files:
            reports.append(IngestReport(str(path), error=f"{path}: folder holds no .txt dumps"))
        reports += [ingest_file(db, f) for f in files]
    return reports


def ingest_file(db: Database, path: Path) -> IngestReport:
    """Ingest one dump file; never raises for a bad file, reports it instead."""
    report = IngestReport(str(path))
    try:
        content_hash = file_hash(path)
    except OSError as exc:
        report.error = f"{path}: cannot read ({exc.strerror or exc})"
        return report
    previous = source_by_hash(db, content_hash)
    if previous is not None:
        report.skipped = True
        report.entries = previous["entries"]
        return report
    try:
        record_entries(
            db,
            parse_dump(path, report.warnings),
            kind="dump",
            location=str(path),
            content_hash=content_hash,
            report=report,
        )
    except DumpError as exc:
        return IngestReport(str(path), error=str(exc), warnings=report.warnings)
    return report

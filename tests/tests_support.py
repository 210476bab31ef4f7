"""Paths shared by the tests (importable because pytest puts tests/ on sys.path)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "examples" / "dumps"
DATA = Path(__file__).resolve().parent / "data"

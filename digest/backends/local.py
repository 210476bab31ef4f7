"""The `local` backend: a GGUF model served by llama.cpp on this machine, no key, no service.

It is the `openai` backend pointed at a llama.cpp server that it starts for the
batch (digest/local) and stops at the end: one request path, one validation,
one call log. The model's name is the file's (e.g. SmolLM2-135M-Instruct.Q4_1),
so changing the file summarises papers again, as changing a remote model does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING

from digest.backends.base import Outcome, StopCheck, never
from digest.backends.openai import PLACEHOLDER_KEY, OpenAIBackend
from digest.local.model import find_model
from digest.local.server import LocalServer

if TYPE_CHECKING:
    from pathlib import Path

    from digest.config import LLMConfig, Settings
    from digest.models import Paper

MAX_SLOTS = 4  # requests llama.cpp serves at once; more only splits a CPU further


class LocalBackend(OpenAIBackend):
    name = "local"

    def __init__(self, llm: LLMConfig, tags: Mapping[str, str], model_file: Path) -> None:
        model = model_file.name.removesuffix(".gguf")
        super().__init__(
            llm.model_copy(update={"model": model, "base_url": "http://127.0.0.1/v1"}),
            tags,
            api_key=PLACEHOLDER_KEY,
        )
        self.model_file = model_file
        # The server is ours, so base_url is never the problem: papers failing in a
        # row mean the model cannot write the reply asked for.
        self._setup_hint = (
            f"the model {model_file.name} could not write valid replies: try a larger"
            ' instruction-tuned GGUF model ([llm] model_path), or backend = "offline"'
        )
        self.slots = max(1, min(llm.concurrency, MAX_SLOTS))
        self.llm = self.llm.model_copy(update={"concurrency": self.slots})

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBackend:  # type: ignore[override]
        return cls(settings.llm, settings.tags, find_model(settings.llm.model_path))

    def _server(self) -> LocalServer:
        return LocalServer(
            self.model_file,
            threads=self.llm.threads,
            context=self.llm.context_size,
            parallel=self.slots,
        )

    def summarize_many(
        self, papers: Collection[Paper], *, should_stop: StopCheck = never
    ) -> Iterator[Outcome]:
        """Start the server only when there is work (a repeat run starts nothing),
        and stop it when the batch ends, however it ends."""
        if not papers:
            return
        with self._server() as server:
            self.base_url = server.base_url
            yield from super().summarize_many(papers, should_stop=should_stop)

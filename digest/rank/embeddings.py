"""Paper vectors from an OpenAI-compatible `/v1/embeddings` endpoint, cached per paper.

OpenAI, Ollama, vLLM, the llama.cpp server and LM Studio all offer the same
endpoint, so `[rank] embeddings_model` is all it takes. A paper's vector is
asked for once per model and kept in `paper_embeddings` (like summaries):
tomorrow's send only embeds tomorrow's new papers. Interest statements are
embedded once per send (they change when the reader says so).

Any failure (no server, a bad key, a model that does not exist) raises
EmbeddingsError; the caller ranks with the lexical model instead and says
so: a digest is never held up by a ranking server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlite_utils import Database

from digest.errors import DigestError
from digest.rank.lexical import paper_text
from digest.secrets import register, scrub
from digest.store.embeddings import cached_vectors, save_vectors

if TYPE_CHECKING:
    import openai

    from digest.config import Settings
    from digest.rank.score import Corpus

BATCH = 64  # texts per request
_MAX_CHARS = 8000  # a title and abstract fit; a runaway abstract is cut, not sent whole


class EmbeddingsError(DigestError):
    """The embeddings server could not give vectors; the message says why."""


class OpenAIEmbedder:
    """`embed(texts) -> unit vectors` through the openai client (its own retries)."""

    def __init__(
        self,
        model: str,
        base_url: str | None,
        *,
        api_key: str | None,
        timeout: float = 60.0,
        max_retries: int = 2,
        client_factory: Callable[[], openai.OpenAI] | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self._retries = max_retries
        self._factory = client_factory
        self.requests = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, env: Mapping[str, str] | None = None
    ) -> OpenAIEmbedder:
        env = os.environ if env is None else env
        base = settings.rank.embeddings_base_url or settings.llm.base_url
        key = env.get(settings.llm.api_key_env) or None
        if key is None and base and _local(base):
            key = "no-key-needed"
        register(key)
        return cls(
            settings.rank.embeddings_model or "",
            base,
            api_key=key,
            timeout=settings.llm.timeout,
            max_retries=settings.llm.max_retries,
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in order."""
        import openai

        if self._api_key is None and self._factory is None:
            raise EmbeddingsError(
                "no API key for the embeddings server: set the variable [llm] api_key_env"
                " names, or leave [rank] embeddings_model unset for the lexical model"
            )
        client = (
            self._factory()
            if self._factory
            else openai.OpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                timeout=self._timeout,
                max_retries=self._retries,
            )
        )
        rows: list[list[float]] = []
        try:
            for start in range(0, len(texts), BATCH):
                batch = [t[:_MAX_CHARS] or " " for t in texts[start : start + BATCH]]
                self.requests += 1
                reply = client.embeddings.create(model=self.model, input=batch)
                data = sorted(reply.data, key=lambda d: d.index)
                if len(data) != len(batch):
                    raise EmbeddingsError(
                        f"the embeddings server returned {len(data)} vectors for {len(batch)} texts"
                    )
                rows += [list(d.embedding) for d in data]
        except openai.OpenAIError as exc:
            raise EmbeddingsError(
                f"embeddings model {self.model!r} failed: {scrub(str(exc))[:200]}"
            ) from None
        finally:
            client.close()
        return unit(np.array(rows, dtype=np.float32).reshape(len(texts), -1))


class EmbeddingSpace:
    """Dense unit vectors of a corpus from an embeddings model (the `Space` protocol)."""

    def __init__(self, vectors: np.ndarray, embedder: OpenAIEmbedder) -> None:
        self.vectors = vectors
        self.embedder = embedder
        self.n, self.dim = vectors.shape
        self._queries: dict[str, np.ndarray] = {}

    @classmethod
    def build(
        cls, embedder: OpenAIEmbedder, corpus: Corpus, db: Database | None = None
    ) -> EmbeddingSpace:
        """Vectors for every corpus paper: from the cache in `db`, the rest asked for
        (in batches) and stored."""
        known = cached_vectors(db, embedder.model, corpus.ids) if db is not None else {}
        missing = [k for k, pid in enumerate(corpus.ids) if pid not in known]
        if missing:
            texts = [paper_text(corpus.titles[k], corpus.abstracts[k]) for k in missing]
            fresh = embedder.embed(texts)
            got = {corpus.ids[k]: fresh[n] for n, k in enumerate(missing)}
            if db is not None:
                save_vectors(db, embedder.model, got)
            known = {**known, **got}
        dims = {len(v) for v in known.values()}
        if len(dims) > 1:
            raise EmbeddingsError(
                f"cached vectors of {embedder.model!r} differ in length ({sorted(dims)}):"
                " did the model behind the name change? delete its rows in paper_embeddings"
            )
        dim = dims.pop() if dims else 1
        vectors = np.zeros((len(corpus.ids), dim), dtype=np.float32)
        for k, pid in enumerate(corpus.ids):
            vectors[k] = known[pid]
        return cls(unit(vectors), embedder)

    def prepare(self, texts: Sequence[str]) -> None:
        """Embed many interest statements in batches, before ranking readers one by one."""
        todo = sorted({t for t in texts if t and t not in self._queries})
        if todo:
            for text, vec in zip(todo, self.embedder.embed(todo), strict=True):
                self._queries[text] = vec

    def scores(self, q: np.ndarray) -> np.ndarray:
        return self.vectors @ q

    def query(self, text: str) -> np.ndarray:
        if text not in self._queries:
            self.prepare([text])
        return self._queries[text]

    def mean(self, rows: Sequence[int]) -> np.ndarray:
        return self.vectors[list(rows)].mean(axis=0)

    def block(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        return self.vectors[list(rows)], np.arange(self.dim)


def unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def _local(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".local")

"""Cached paper vectors (`paper_embeddings`): one row per paper and embeddings model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sqlite_utils import Database

from digest.store import utcnow


def cached_vectors(db: Database, model: str, paper_ids: Iterable[int]) -> dict[int, np.ndarray]:
    """The stored vectors of these papers for `model` (float32, little-endian)."""
    wanted = set(paper_ids)
    out = {}
    for pid, dim, blob in db.execute(
        "SELECT paper_id, dim, vector FROM paper_embeddings WHERE model = ?", [model]
    ):
        if pid in wanted and len(blob) == 4 * dim:
            out[pid] = np.frombuffer(blob, dtype="<f4").copy()
    return out


def save_vectors(db: Database, model: str, vectors: Mapping[int, np.ndarray]) -> None:
    """Store vectors; a paper already embedded with this model keeps its first one."""
    if getattr(db, "read_only", False):  # `digest status` on a read-only copy
        return
    now = utcnow()
    with db.atomic():
        db.conn.executemany(
            "INSERT OR IGNORE INTO paper_embeddings (paper_id, model, dim, vector, created)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (pid, model, len(v), np.asarray(v, dtype="<f4").tobytes(), now)
                for pid, v in vectors.items()
            ],
        )

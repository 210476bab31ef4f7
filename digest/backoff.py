"""One back-off rule for the retries digest runs itself.

Retries are left to the client libraries wherever they have them: the model
and embeddings calls use the openai SDK's own (`[llm] max_retries`, honouring
Retry-After), and a failed connection to a live source is retried by httpx's
transport. What is left, HTTP 429/5xx from a live source and a temporary SMTP
failure, waits by this rule: `first` seconds after the first failed attempt,
doubled after each further one, never more than `cap`: 2, 4, 8, ... 60 s.
A server's own Retry-After, when it sends one, wins over it (callers).
"""

from __future__ import annotations


def backoff(attempt: int, first: float = 2.0, cap: float = 60.0) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...)."""
    return float(min(first * 2 ** (attempt - 1), cap))

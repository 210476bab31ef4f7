"""What the workers of one batch of model calls share: the cost reservation behind
`max_cost_per_run`, the pacing behind `requests_per_minute`, the breaker that
stops sending papers when they fail one after another, and the stop request.

All of it runs on one event-loop thread, so plain attributes need no locks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from digest.models import LLMCall

if TYPE_CHECKING:
    from digest.config import LLMConfig

BREAKER = 5  # papers failing in a row (after the SDK's retries) before the rest go offline
OUTPUT_GUESS = 300  # output tokens assumed for the cost cap before any reply is seen
CHARS_PER_TOKEN = 3.0  # English runs ~4 characters per token: this errs on the high side


class Halt(Exception):
    """A stop request heard by a worker: the batch ends now, requests in flight are abandoned."""


def is_local(url: str) -> bool:
    """A server on this machine or the local network, which may need no key."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


@dataclass
class RunState:
    """State the workers of one batch share (one event-loop thread: no locks)."""

    spent: float = 0.0  # cost of the calls answered so far
    reserved: float = 0.0  # estimated cost of the calls in flight
    max_output: int = 0
    failures: int = 0  # papers failed in a row
    stopped: str | None = None  # why the remaining papers are not sent (they come back skipped)
    stop_told: bool = False  # whether a failure has carried `stopped` out yet
    fatal: str | None = None  # a setup problem: take no more papers, end the run with it
    next_slot: float = 0.0  # monotonic time the next request may start ([llm] requests_per_minute)
    should_stop: Callable[[], bool] = lambda: False  # the caller's stop request

    def check_stop(self) -> None:
        """Raise Halt if the caller asked to stop."""
        if self.should_stop():
            raise Halt

    def estimate(self, prompt_chars: int, llm: LLMConfig) -> float:
        """A generous guess at a call's cost, so the cap is not crossed by calls in flight."""
        return (
            prompt_chars / CHARS_PER_TOKEN * llm.price_input_per_mtok
            + (self.max_output or OUTPUT_GUESS) * llm.price_output_per_mtok
        ) / 1e6

    async def pace(self, rpm: float | None) -> None:
        """Space requests evenly under [llm] requests_per_minute, whatever the concurrency:
        staying under a provider's limit beats a storm of 429s and retries."""
        if not rpm:
            return
        now = time.monotonic()
        slot = max(now, self.next_slot)
        self.next_slot = slot + 60.0 / rpm
        while (wait := slot - time.monotonic()) > 0:
            await asyncio.sleep(min(wait, 0.5))
            self.check_stop()  # a long wait still hears SIGTERM / Ctrl-C at once

    def count_failure(self, reason: str, hint: str) -> None:
        """Papers failing in a row mean the setup is wrong (a web page at base_url, a
        model that cannot follow the format): stop sending after BREAKER of them.
        `hint` says what to check; empty when `reason` already says it."""
        self.failures += 1
        if self.failures >= BREAKER and self.stopped is None:
            self.stopped = f"{BREAKER} papers failed in a row (last: {reason})" + (
                f"; {hint}" if hint else ""
            )


def call_record(completion: Any, latency_ms: float, llm: LLMConfig) -> LLMCall:
    """A chat completion as the call log records it: tokens, latency, priced cost."""
    usage = getattr(completion, "usage", None)
    tokens_in = getattr(usage, "prompt_tokens", None)
    tokens_out = getattr(usage, "completion_tokens", None)
    cost = (
        (tokens_in or 0) * llm.price_input_per_mtok + (tokens_out or 0) * llm.price_output_per_mtok
    ) / 1e6
    choices = getattr(completion, "choices", None) or [None]
    finish = getattr(choices[0], "finish_reason", None)
    # A finish_reason is stored as a short string, whatever the server sent.
    short = str(finish)[:40] if finish is not None else None
    return LLMCall("ok", latency_ms, tokens_in, tokens_out, cost, finish_reason=short)

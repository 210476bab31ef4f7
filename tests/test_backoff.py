"""The one back-off rule (digest/backoff.py) and the retries that follow it."""

from __future__ import annotations

from digest.backoff import backoff
from digest.mail.delivery import default_backoff


def test_waits_double_from_two_seconds_up_to_a_minute() -> None:
    assert [backoff(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert [backoff(n, 0.5) for n in range(1, 4)] == [0.5, 1.0, 2.0]


def test_smtp_retries_wait_by_the_same_numbers() -> None:
    assert [default_backoff(n) for n in range(1, 12)] == [backoff(n) for n in range(1, 12)]

"""When a failed webhook is tried again: the schedule, its jitter, and what receivers ask."""

from __future__ import annotations

import random

import pytest

from deskside_notify.egress import AttemptResult
from deskside_notify.retries import RETRY_SCHEDULE, is_gone, next_retry_delay


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311  (jitter in a test, not a secret)


def failed(status: int | None = 500, **extra: object) -> AttemptResult:
    return AttemptResult(status_code=status, duration_ms=5, **extra)  # type: ignore[arg-type]


def test_the_schedule_is_followed_within_its_jitter() -> None:
    rng = seeded(7)
    steps = [next_retry_delay(made, failed(), rng=rng) for made in range(1, 9)]
    assert steps[-1] is None  # eight attempts in all
    for delay, nominal in zip(steps[:-1], RETRY_SCHEDULE[1:], strict=True):
        assert delay is not None
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert RETRY_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize(
    "result",
    [failed(None, timed_out=True, error="Timed out."), failed(429)],
    ids=["timeout", "429"],
)
def test_a_slow_or_busy_receiver_gets_at_least_a_minute(result: AttemptResult) -> None:
    delay = next_retry_delay(1, result, rng=seeded(1))
    assert delay is not None
    assert delay >= 60


def test_retry_after_is_honoured_up_to_ten_hours() -> None:
    rng = seeded(1)
    assert next_retry_delay(1, failed(503, retry_after=900.0), rng=rng) == 900
    assert next_retry_delay(1, failed(503, retry_after=10**7), rng=rng) == 36000


def test_410_means_gone() -> None:
    assert is_gone(failed(410))
    assert not is_gone(failed(404))


def test_jitter_spreads_retries_of_many_deliveries() -> None:
    delays = {next_retry_delay(2, failed(), rng=seeded(seed)) for seed in range(20)}
    assert len(delays) > 10  # receivers coming back up are not hit by one wave


def test_a_short_retry_after_does_not_shorten_the_schedule() -> None:
    delay = next_retry_delay(3, failed(503, retry_after=1.0), rng=seeded(3))
    assert delay is not None
    assert delay >= RETRY_SCHEDULE[3] * 0.8

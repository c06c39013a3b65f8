"""When a failed webhook delivery is tried again, and when it is given up."""

from __future__ import annotations

import random

from deskside_notify.egress import AttemptResult

# Seconds before each attempt: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h;
# about 37 hours in all, so a receiver down over a night and a day still gets everything.
RETRY_SCHEDULE: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
# A receiver that timed out or asked us to slow down gets at least this long.
SLOW_DOWN_SECONDS = 60.0
LONGEST_WAIT_SECONDS = 36000.0


def next_retry_delay(
    attempts_made: int, result: AttemptResult, *, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None to give up."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[attempts_made] * rng.uniform(1 - JITTER, 1 + JITTER)
    if result.timed_out or result.status_code == 429:
        delay = max(delay, SLOW_DOWN_SECONDS)
    if result.retry_after is not None:
        delay = max(delay, min(result.retry_after, LONGEST_WAIT_SECONDS))
    return delay


def is_gone(result: AttemptResult) -> bool:
    """410 Gone: the receiver says this endpoint will never take another delivery."""
    return result.status_code == 410

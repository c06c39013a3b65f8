"""Signatures any Standard Webhooks library verifies, and the retry schedule."""

from __future__ import annotations

import random
import time

import pytest
from standardwebhooks.webhooks import Webhook

from deskside_notify.egress import AttemptResult
from deskside_notify.retries import RETRY_SCHEDULE, is_gone, next_retry_delay
from deskside_notify.signing import new_secret, webhook_headers

BODY = b'{"id":"evt_1","type":"ticket.created"}'


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311  (jitter in a test, not a secret)


def test_a_delivery_verifies_with_the_standard_library() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "evt_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) is not None
    assert headers["webhook-id"] == "evt_1"


def test_during_a_rotation_either_secret_verifies_and_a_stranger_does_not() -> None:
    current, previous = new_secret(), new_secret()
    headers = webhook_headers([current, previous], "evt_1", int(time.time()), BODY)
    Webhook(current).verify(BODY, headers)
    Webhook(previous).verify(BODY, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_changed_body_does_not_verify() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "evt_1", int(time.time()), BODY)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(BODY.replace(b"created", b"deleted"), headers)


def test_secrets_are_fresh_and_long_enough() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 6 + 44 for s in secrets)


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

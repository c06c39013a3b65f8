"""Rate limiting: a token bucket per verified subject, else per client address."""

from __future__ import annotations

import httpx
import pytest

from deskside_gateway.ratelimit import TokenBuckets
from deskside_kit.tokens import mint_token
from tests.gateway.conftest import GatewayFor, echoed
from tests.support.tokens import bearer

PROBLEM = "application/problem+json"
# Slow enough that nothing refills while a test runs.
NO_REFILL = 0.001


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestTokenBuckets:
    def test_a_full_bucket_allows_the_burst_then_refuses(self) -> None:
        buckets = TokenBuckets(per_second=2, burst=3, clock=FakeClock())
        decisions = [buckets.take("alice") for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert decisions[-1].retry_after == pytest.approx(0.5)
        assert decisions[-1].reset == pytest.approx(1.5)

    def test_it_refills_at_the_rate_and_never_past_the_burst(self) -> None:
        clock = FakeClock()
        buckets = TokenBuckets(per_second=2, burst=3, clock=clock)
        for _ in range(3):
            buckets.take("alice")
        clock.now += 0.5  # one token back
        assert buckets.take("alice").allowed
        assert not buckets.take("alice").allowed
        clock.now += 3600
        assert [buckets.take("alice").allowed for _ in range(4)] == [True, True, True, False]

    def test_each_key_has_its_own_bucket(self) -> None:
        buckets = TokenBuckets(per_second=1, burst=1, clock=FakeClock())
        assert buckets.take("alice").allowed
        assert not buckets.take("alice").allowed
        assert buckets.take("bob").allowed

    def test_the_least_recently_seen_callers_are_forgotten_first(self) -> None:
        buckets = TokenBuckets(per_second=1, burst=1, clock=FakeClock(), max_keys=2)
        buckets.take("alice")
        buckets.take("bob")
        buckets.take("alice")  # alice is now the most recent
        buckets.take("carol")
        assert len(buckets) == 2
        assert not buckets.take("alice").allowed  # remembered, still empty
        assert buckets.take("bob").allowed  # forgotten, so full again


async def _statuses(client: httpx.AsyncClient, count: int, **kwargs: object) -> list[int]:
    return [(await client.get("/v1/tickets", **kwargs)).status_code for _ in range(count)]  # type: ignore[arg-type]


class TestAtTheGateway:
    async def test_going_over_answers_429_with_retry_after_and_limits(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(**upstreams, rate_limit_burst=3, rate_limit_per_second=0.5)
        alice = bearer("alice")
        answers = [await client.get("/v1/tickets", headers=alice) for _ in range(4)]

        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
        refused = answers[-1]
        assert refused.headers["content-type"] == PROBLEM
        assert refused.headers["retry-after"] == "2"  # one token at 0.5 a second
        assert refused.headers["ratelimit-reset"] == "6"
        problem = refused.json()
        assert problem["status"] == 429
        assert "Try again in 2 s" in problem["detail"]

    async def test_a_refused_request_never_reaches_the_service(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(**upstreams, rate_limit_burst=1, rate_limit_per_second=NO_REFILL)
        await client.get("/v1/tickets", headers=bearer("alice"))
        refused = await client.get("/v1/tickets", headers=bearer("alice"))
        assert refused.status_code == 429
        assert "service" not in refused.json()  # not the echo upstream's answer

    async def test_subjects_are_limited_separately(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(**upstreams, rate_limit_burst=2, rate_limit_per_second=NO_REFILL)
        assert await _statuses(client, 3, headers=bearer("alice")) == [200, 200, 429]
        assert await _statuses(client, 2, headers=bearer("bob")) == [200, 200]
        # Without a token the caller is its address, which has its own bucket too.
        assert await _statuses(client, 3) == [200, 200, 429]

    async def test_a_token_that_does_not_verify_counts_against_the_address(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(**upstreams, rate_limit_burst=2, rate_limit_per_second=NO_REFILL)
        # Every forged token names a new subject; all of them share one bucket.
        wrong_key = "not-the-key-" + "0" * 32
        forged = [
            {"Authorization": f"Bearer {mint_token(wrong_key, sub=f'x{i}', roles=['agent'])}"}
            for i in range(3)
        ]
        statuses = [(await client.get("/v1/tickets", headers=h)).status_code for h in forged]
        assert statuses == [200, 200, 429]
        assert await _statuses(client, 1) == [429]

    async def test_the_forwarded_address_counts_only_behind_a_trusted_proxy(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        untrusting = await gateway_for(
            **upstreams, rate_limit_burst=1, rate_limit_per_second=NO_REFILL
        )
        spoofed = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in range(2)]
        assert [(await untrusting.get("/v1/tickets", headers=h)).status_code for h in spoofed] == [
            200,
            429,
        ]

        trusting = await gateway_for(
            **upstreams,
            rate_limit_burst=1,
            rate_limit_per_second=NO_REFILL,
            trust_forwarded_headers=True,
        )
        # The last hop is the one the trusted proxy added; the first is the client's claim.
        hops = [{"X-Forwarded-For": f"198.51.100.7, 203.0.113.{i}"} for i in range(2)]
        assert [(await trusting.get("/v1/tickets", headers=h)).status_code for h in hops] == [
            200,
            200,
        ]
        same_hop = {"X-Forwarded-For": "192.0.2.1, 203.0.113.0"}
        assert (await trusting.get("/v1/tickets", headers=same_hop)).status_code == 429

    async def test_the_gateways_own_endpoints_are_not_limited(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(**upstreams, rate_limit_burst=1, rate_limit_per_second=NO_REFILL)
        assert await _statuses(client, 2) == [200, 429]
        for path in ["/healthz", "/metrics", "/healthz"]:
            response = await client.get(path)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers

    async def test_refusals_are_counted_in_the_metrics(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(**upstreams, rate_limit_burst=1, rate_limit_per_second=NO_REFILL)
        await _statuses(client, 3, headers=bearer("alice"))
        metrics = (await client.get("/metrics")).text
        assert 'gateway_rate_limited_total{caller="subject"} 2.0' in metrics

    async def test_it_can_be_switched_off(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        client = await gateway_for(
            **upstreams,
            rate_limit_enabled=False,
            rate_limit_burst=1,
            rate_limit_per_second=NO_REFILL,
        )
        answers = [await client.get("/v1/tickets") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert echoed(answers[-1])["service"] == "tickets"
        assert "ratelimit-limit" not in answers[-1].headers

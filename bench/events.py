"""Event to webhook: how long a created ticket takes to reach a subscriber, signed.

Tickets are created through the gateway at a steady rate (an open loop: the
next create goes out on time whether or not earlier ones were answered), and
a real receiver on loopback verifies each `ticket.created` delivery's
signature. The latency of a ticket runs from the moment its create was due
to go out to its delivery arriving, so it includes the create itself and any
wait for a free connection when the stack falls behind (no coordinated
omission: a slow stack cannot hide its backlog by slowing the generator).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx
from tests.support.receivers import webhook_receiver

# The backlog counts as steady if the last ten seconds' median is within this of the first's.
STEADY_FACTOR = 2.0
STEADY_SLACK_MS = 100.0
DRAIN_SECONDS = 60.0
# Creates in flight at once, as many as wrk's connections elsewhere in the benchmark.
CONNECTIONS = 64


async def measure(
    gateway: str, *, admin_token: str, requester_token: str, rate: int, seconds: int
) -> dict[str, Any]:
    async with (
        webhook_receiver() as receiver,
        httpx.AsyncClient(
            base_url=gateway, timeout=30, limits=httpx.Limits(max_connections=CONNECTIONS)
        ) as client,
    ):
        subscribed = await client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "event_types": ["ticket.created"], "description": "bench"},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        subscribed.raise_for_status()
        receiver.secret = subscribed.json()["secret"]
        headers = {"Authorization": f"Bearer {requester_token}"}
        sent_at: dict[str, float] = {}
        failures = 0
        # Without a bound, thousands of queued requests make httpx's pool itself the bottleneck.
        free = asyncio.Semaphore(CONNECTIONS)

        async def create(number: int, due: float) -> None:
            title = f"bench event {number}"
            sent_at[title] = due
            async with free:
                await send(title)

        async def send(title: str) -> None:
            nonlocal failures
            try:
                response = await client.post(
                    "/v1/tickets",
                    json={"title": title, "description": "Measuring event delivery."},
                    headers=headers,
                )
            except httpx.TransportError:
                failures += 1
                return
            if response.status_code != 201:
                failures += 1

        began = time.monotonic()
        tasks = []
        for number in range(rate * seconds):
            due = began + number / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(create(number, due)))
        late_by = time.monotonic() - (began + seconds)
        await asyncio.gather(*tasks)
        expected = len(tasks) - failures
        deadline = time.monotonic() + DRAIN_SECONDS
        while _delivered(receiver) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    latencies: list[tuple[float, float]] = []  # (sent, milliseconds)
    seen: set[str] = set()
    verified = 0
    for delivery in receiver.received:
        title = delivery.event.get("data", {}).get("ticket", {}).get("title", "")
        if title not in sent_at or title in seen:
            continue
        seen.add(title)
        verified += delivery.verified
        latencies.append((sent_at[title], (delivery.received_at - sent_at[title]) * 1000))
    values = sorted(ms for _, ms in latencies)
    first = [ms for sent, ms in latencies if sent < began + 10]
    last = [ms for sent, ms in latencies if sent >= began + seconds - 10]
    first_p50 = statistics.median(first) if first else 0.0
    last_p50 = statistics.median(last) if last else float("inf")
    return {
        "rate_per_second": rate,
        "seconds": seconds,
        "creates": len(tasks),
        "creates_failed": failures,
        "generator_late_by_s": round(max(late_by, 0.0), 2),
        "delivered": len(values),
        "signatures_verified": verified,
        "p50_ms": round(_percentile(values, 50), 1),
        "p90_ms": round(_percentile(values, 90), 1),
        "p99_ms": round(_percentile(values, 99), 1),
        "max_ms": round(values[-1], 1) if values else None,
        "first_10s_p50_ms": round(first_p50, 1),
        "last_10s_p50_ms": round(last_p50, 1),
        "steady": len(values) == expected
        and last_p50 <= max(first_p50 * STEADY_FACTOR, first_p50 + STEADY_SLACK_MS),
    }


def _delivered(receiver: Any) -> int:
    return len({delivery.webhook_id for delivery in receiver.received})


def _percentile(values: list[float], percent: float) -> float:
    if not values:
        return float("inf")
    index = min(len(values) - 1, round(percent / 100 * (len(values) - 1)))
    return values[index]

"""Event to webhook: how long a created ticket takes to reach a subscriber, signed.

Tickets are created through the gateway at a steady rate (an open loop: the
next create goes out on time whether or not earlier ones were answered), and
a real receiver on loopback verifies each `ticket.created` delivery's
signature. The latency of a ticket runs from the moment its create was due
to go out to its delivery arriving, so it includes the create itself and any
wait for a free connection when the stack falls behind (no coordinated
omission: a slow stack cannot hide its backlog by slowing the generator).

The generator and the receiver share the two cores with the stack, so they are
kept lean: creates go out on aiohttp's client (the gateway's own, several times
cheaper per request than httpx), and signatures are checked after the run, not
while deliveries arrive.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from standardwebhooks.webhooks import Webhook
from tests.support.receivers import ReceivedWebhook, webhook_receiver

# The target's rate, and one the stack on two cores keeps up with: that run shows
# the latency of an unhurried stack and what one ticket's journey costs each process.
TARGET_RATE = 200
SUSTAINABLE_RATE = 20
# The backlog counts as steady if the last ten seconds' median is within this of the first's.
STEADY_FACTOR = 2.0
STEADY_SLACK_MS = 100.0
DRAIN_SECONDS = 60.0
# Creates in flight at once, as many as wrk's connections elsewhere in the benchmark.
CONNECTIONS = 64


async def measure(
    gateway: str,
    *,
    admin_token: str,
    requester_token: str,
    rate: int,
    seconds: int,
    processes: Mapping[str, int],
) -> dict[str, Any]:
    """`processes` names the stack's processes by pid: their CPU per ticket is reported."""
    async with (
        webhook_receiver() as receiver,
        aiohttp.ClientSession(
            base_url=gateway,
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=CONNECTIONS),
        ) as client,
        _subscription(client, receiver.url, admin_token) as secret,
    ):
        headers = {"Authorization": f"Bearer {requester_token}"}
        sent_at: dict[str, float] = {}
        failures = 0
        failed_how: Counter[str] = Counter()
        # Without a bound, thousands of queued requests wait inside the client's pool.
        free = asyncio.Semaphore(CONNECTIONS)

        async def create(number: int, due: float) -> None:
            title = f"bench event {number}"
            sent_at[title] = due
            async with free:
                await send(title)

        async def send(title: str) -> None:
            nonlocal failures
            try:
                async with client.post(
                    "/v1/tickets",
                    json={"title": title, "description": "Measuring event delivery."},
                    headers=headers,
                ) as response:
                    await response.read()
                    if response.status != 201:
                        failures += 1
                        failed_how[str(response.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                failed_how[type(exc).__name__] += 1

        cpu_before = _cpu_seconds(processes)
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
        cpu_after = _cpu_seconds(processes)

    latencies: list[tuple[float, float]] = []  # (sent, milliseconds)
    seen: set[str] = set()
    verified = 0
    for delivery in receiver.received:
        title = delivery.event.get("data", {}).get("ticket", {}).get("title", "")
        if title not in sent_at or title in seen:
            continue
        seen.add(title)
        verified += _verified(delivery, secret)
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
        "creates_failed_how": dict(failed_how),
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
        # Where a ticket's CPU goes, from its create to its webhook: the two cores must
        # fit this `rate` times a second. Per ticket created; when a backlog is left
        # (not `steady`), the deliveries still owed are missing from notify's share.
        "cpu_ms_per_ticket": {
            name: round(1000 * (cpu_after[name] - cpu_before[name]) / max(expected, 1), 2)
            for name in cpu_before
        },
    }


@asynccontextmanager
async def _subscription(
    client: aiohttp.ClientSession, url: str, admin_token: str
) -> AsyncIterator[str]:
    """A `ticket.created` subscription for `url`, deleted again after; yields its secret.

    Left behind, it would outlive its receiver: every later ticket would also be
    posted to a closed port, and retried, at the cost of the next figure.
    """
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": ["ticket.created"], "description": "bench"},
        headers=admin,
    ) as subscribed:
        subscribed.raise_for_status()
        subscription = await subscribed.json()
    try:
        yield subscription["secret"]
    finally:
        async with client.delete(
            f"/v1/webhooks/{subscription['id']}", headers=admin
        ) as unsubscribed:
            unsubscribed.raise_for_status()


def _cpu_seconds(processes: Mapping[str, int]) -> dict[str, float]:
    """User and system CPU so far of each named process, of PostgreSQL and of this one."""
    ticks = os.sysconf("SC_CLK_TCK")

    def of(pid: int | str) -> float:
        try:
            # The command name is in parentheses and may hold spaces: count from its end.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return 0.0  # gone meanwhile; its time is then in its parent's children's time
        # utime, stime, and cutime, cstime: a PostgreSQL backend that ended counts in the
        # postmaster's children's time, so its work is never lost from the sum.
        return sum(int(value) for value in fields[11:15]) / ticks

    seconds = {name: of(pid) for name, pid in processes.items()}
    seconds["postgresql"] = sum(
        of(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _command(entry) == "postgres"
    )
    own = os.times()
    seconds["bench: load generator and receiver"] = own.user + own.system
    return seconds


def _command(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip()
    except OSError:
        return ""


def _verified(delivery: ReceivedWebhook, secret: str) -> bool:
    try:
        Webhook(secret).verify(delivery.body, delivery.headers)
    except Exception:
        return False
    return True


def _delivered(receiver: Any) -> int:
    return len({delivery.webhook_id for delivery in receiver.received})


def _percentile(values: list[float], percent: float) -> float:
    if not values:
        return float("inf")
    index = min(len(values) - 1, round(percent / 100 * (len(values) - 1)))
    return values[index]

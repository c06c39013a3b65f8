"""Network faults between the parts: nothing hangs, the gateway says what broke, work resumes.

The stack runs as real processes; a fault proxy (tests/support/faultproxy.py)
sits in front of inventory and of notify, so every call to them (from the
gateway, from tickets and from its outbox relay) crosses it. Each request is
timed against the timeout that bounds it, plus one second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.e2e.conftest import StartStack
from tests.support.faultproxy import FaultProxy, fault_proxy
from tests.support.receivers import WebhookReceiver, webhook_receiver
from tests.support.servers import free_ports
from tests.support.tokens import bearer

pytestmark = pytest.mark.hard

ALICE = bearer("alice", email="alice@example.com")
ADMIN = bearer("root", "admin")
UPSTREAM_TIMEOUT = 3.0  # the gateway's, before a 504
INVENTORY_TIMEOUT = 1.0  # tickets', before it opens a ticket without the snapshot
OUTAGE_SECONDS = 30
PROBLEM = "application/problem+json"


@pytest.fixture
def backend() -> str:
    # Faults between processes do not depend on the database: SQLite keeps it quick.
    return "sqlite"


@pytest.fixture
async def proxies(stack_ports: dict[str, int]) -> AsyncIterator[dict[str, FaultProxy]]:
    inventory_port, notify_port = free_ports(2)
    async with (
        fault_proxy(inventory_port, stack_ports["inventory"]) as inventory,
        fault_proxy(notify_port, stack_ports["notify"]) as notify,
    ):
        yield {"inventory": inventory, "notify": notify}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as endpoint:
        yield endpoint


async def _timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call()
    return response, time.monotonic() - started


@pytest.mark.timeout(600)  # long by design; pytest-timeout is for hangs
async def test_faults_are_bounded_reported_and_recovered_from(
    start_stack: StartStack, proxies: dict[str, FaultProxy], receiver: WebhookReceiver
) -> None:
    inventory, notify = proxies["inventory"], proxies["notify"]
    stack = await start_stack(
        {
            "DESKSIDE_GATEWAY_INVENTORY_URL": inventory.url,
            "DESKSIDE_GATEWAY_NOTIFY_URL": notify.url,
            "DESKSIDE_TICKETS_INVENTORY_URL": inventory.url,
            "DESKSIDE_TICKETS_NOTIFY_URL": notify.url,
            "DESKSIDE_INVENTORY_NOTIFY_URL": notify.url,
            "DESKSIDE_GATEWAY_UPSTREAM_TIMEOUT": str(UPSTREAM_TIMEOUT),
            "DESKSIDE_TICKETS_INVENTORY_TIMEOUT": str(INVENTORY_TIMEOUT),
            "DESKSIDE_TICKETS_RELAY_INTERVAL": "0.1",
            "DESKSIDE_NOTIFY_DELIVERY_INTERVAL": "0.1",
            "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_HTTP": "true",
            "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
        }
    )
    checks: list[str] = []
    failures: list[str] = []

    def expect(name: str, condition: bool, detail: str) -> None:
        checks.append(name)
        if not condition:
            failures.append(f"{name}: {detail}")

    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as gateway:
        hook = await gateway.post(
            "/v1/webhooks",
            json={"url": receiver.url, "event_types": ["ticket.created"]},
            headers=ADMIN,
        )
        assert hook.status_code == 201, hook.text

        def devices() -> Awaitable[httpx.Response]:
            return gateway.get("/v1/devices", headers=ALICE)

        def open_ticket() -> Awaitable[httpx.Response]:
            body = {"title": "Mail on my iPhone", "technology": "ios"}
            return gateway.post("/v1/tickets", json=body, headers=ALICE)

        # Latency: slower, still answered.
        await inventory.set("latency", latency=0.5)
        answer, took = await _timed(devices)
        expect("latency", answer.status_code == 200, f"{answer.status_code} in {took:.1f} s")

        # Blackhole: the gateway gives up at its timeout; tickets opens the ticket anyway.
        await inventory.set("blackhole")
        answer, took = await _timed(devices)
        expect(
            "blackhole -> 504",
            answer.status_code == 504
            and answer.headers["content-type"] == PROBLEM
            and took < UPSTREAM_TIMEOUT + 1,
            f"{answer.status_code} in {took:.1f} s",
        )
        answer, took = await _timed(open_ticket)
        expect(
            "ticket while inventory is blackholed",
            answer.status_code == 201 and took < INVENTORY_TIMEOUT + 1,
            f"{answer.status_code} in {took:.1f} s",
        )

        # Reset and refused connections: 502 at once.
        for mode in ("reset", "down"):
            await inventory.set(mode)  # type: ignore[arg-type]
            answer, took = await _timed(devices)
            expect(
                f"{mode} -> 502",
                answer.status_code == 502
                and answer.headers["content-type"] == PROBLEM
                and took < 1,
                f"{answer.status_code} in {took:.1f} s",
            )
            answer, took = await _timed(open_ticket)
            expect(
                f"ticket while inventory is {mode}",
                answer.status_code == 201 and took < INVENTORY_TIMEOUT + 1,
                f"{answer.status_code} in {took:.1f} s",
            )
        await inventory.set("pass")
        answer, _ = await _timed(devices)
        expect("inventory back", answer.status_code == 200, str(answer.status_code))

        # A 30 s notify outage: tickets keeps opening; the events wait, then all arrive.
        await notify.set("down")
        outage_began = time.monotonic()
        opened = []
        while time.monotonic() - outage_began < OUTAGE_SECONDS:
            answer, took = await _timed(open_ticket)
            expect(
                "ticket during the notify outage",
                answer.status_code == 201 and took < INVENTORY_TIMEOUT + 1,
                f"{answer.status_code} in {took:.1f} s",
            )
            if answer.status_code == 201:
                opened.append(answer.json()["id"])
            webhooks, took = await _timed(lambda: gateway.get("/v1/webhooks", headers=ADMIN))
            expect(
                "notify down -> 502",
                webhooks.status_code == 502 and took < 1,
                f"{webhooks.status_code} in {took:.1f} s",
            )
            await asyncio.sleep(1)
        await notify.set("pass")
        cleared = time.monotonic()
        wanted = set(opened)
        while time.monotonic() - cleared < 60:
            if wanted <= _announced(receiver):
                break
            await asyncio.sleep(0.2)
        caught_up = time.monotonic() - cleared
        expect(
            "queued events delivered after the outage",
            wanted <= _announced(receiver),
            f"{len(wanted - _announced(receiver))} of {len(wanted)} missing",
        )

    print(
        f"\nnetwork faults: {len(checks)} checks under latency, blackhole, reset, refusal and a "
        f"{OUTAGE_SECONDS} s outage, {len(failures)} failed; {len(opened)} tickets opened during "
        f"the outage, their events delivered {caught_up:.1f} s after it cleared"
    )
    assert failures == []


def _announced(receiver: WebhookReceiver) -> set[str]:
    return {
        webhook.event["data"]["ticket"]["id"]
        for webhook in receiver.received
        if webhook.event["type"] == "ticket.created"
    }

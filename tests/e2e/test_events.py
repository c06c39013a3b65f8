"""Events reach people and integrations: real processes, a real SMTP server, a real receiver.

The stack runs as its four processes; mail goes to aiosmtpd and webhooks to a
receiver that verifies each delivery with the `standardwebhooks` library, as
a subscriber would. Nothing in between is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from deskside_kit.devstack import Stack
from tests.e2e.conftest import StartStack
from tests.support.receivers import MailServer, WebhookReceiver, mail_server, webhook_receiver
from tests.support.tokens import bearer

ALICE = bearer("alice", "requester", email="alice@example.com", name="Alice Ames")
ADMIN = bearer("root", "admin", email="root@example.com")


@pytest.fixture
async def smtp() -> AsyncIterator[MailServer]:
    async with mail_server() as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as endpoint:
        yield endpoint


def environment(smtp: MailServer, *, interval: float) -> dict[str, str]:
    """The stack's environment: mail to `smtp`, the relay and workers looking every `interval`."""
    return {
        "DESKSIDE_NOTIFY_MAIL_TRANSPORT": "smtp",
        "DESKSIDE_NOTIFY_SMTP_HOST": smtp.host,
        "DESKSIDE_NOTIFY_SMTP_PORT": str(smtp.port),
        "DESKSIDE_NOTIFY_SMTP_SECURITY": "none",
        # The receiver listens on loopback over plain HTTP: allowed explicitly, as
        # the embedded stack does and production refuses.
        "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_HTTP": "true",
        "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
        "DESKSIDE_NOTIFY_DELIVERY_INTERVAL": str(interval),
        "DESKSIDE_TICKETS_RELAY_INTERVAL": str(interval),
    }


@pytest.fixture
async def stack(start_stack: StartStack, smtp: MailServer) -> Stack:
    return await start_stack(environment(smtp, interval=0.1))


async def subscribe(gateway: httpx.AsyncClient, receiver: WebhookReceiver) -> None:
    created = await gateway.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["ticket.created"]},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    receiver.secret = created.json()["secret"]


async def test_a_new_ticket_is_acknowledged_by_mail_and_announced_by_a_signed_webhook(
    stack: Stack, smtp: MailServer, receiver: WebhookReceiver
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as gateway:
        await subscribe(gateway, receiver)
        created = await gateway.post(
            "/v1/tickets",
            json={"title": "Dropbox stopped syncing", "description": "On my Android phone"},
            headers=ALICE,
        )
        assert created.status_code == 201, created.text
        ticket = created.json()

        (acknowledgement,) = await smtp.wait_for(1)
        await receiver.wait_for(1)

        # The mailer marks the mail sent once the SMTP server has taken it, a
        # moment after the server has it: read the log until it says so.
        for _ in range(50):
            log = await gateway.get(
                "/v1/notifications", params={"ticket": ticket["reference"]}, headers=ADMIN
            )
            if [item["status"] for item in log.json()["items"]] == ["sent"]:
                break
            await asyncio.sleep(0.1)

    assert acknowledgement["Subject"].startswith(f"[{ticket['reference']}] ")
    assert acknowledgement["To"] == "Alice Ames <alice@example.com>"
    assert acknowledgement["In-Reply-To"] == f"<ticket.{ticket['id']}@deskside.local>"
    assert ticket["reference"] in acknowledgement.get_body(("plain",)).get_content()

    (delivery,) = receiver.received
    assert delivery.verified
    assert delivery.event["type"] == "ticket.created"
    assert delivery.event["data"]["ticket"]["reference"] == ticket["reference"]

    (logged,) = log.json()["items"]
    assert logged["status"] == "sent"
    assert logged["recipient_email"] == "alice@example.com"


async def test_a_new_ticket_is_announced_at_once_not_at_the_next_look(
    start_stack: StartStack, smtp: MailServer, receiver: WebhookReceiver
) -> None:
    # Looks a minute apart: the commits' wakes carry the event from tickets to the receiver.
    slow_looks = await start_stack(environment(smtp, interval=60))
    async with httpx.AsyncClient(base_url=slow_looks.gateway_url, timeout=10) as gateway:
        await subscribe(gateway, receiver)
        created = await gateway.post("/v1/tickets", json={"title": "VPN drops"}, headers=ALICE)
        answered = time.monotonic()
        await receiver.wait_for(1, within=5)
        await smtp.wait_for(1, within=5)

    assert created.status_code == 201, created.text
    (delivery,) = receiver.received
    assert delivery.verified
    assert delivery.event["data"]["ticket"]["reference"] == created.json()["reference"]
    assert delivery.received_at - answered < 2


async def test_events_written_while_notify_is_down_all_arrive_once_it_is_back(
    stack: Stack, smtp: MailServer, receiver: WebhookReceiver
) -> None:
    tickets = 200
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as gateway:
        await subscribe(gateway, receiver)
        await asyncio.to_thread(stack.stop_part, "notify")

        references = []
        for number in range(tickets):
            created = await gateway.post("/v1/tickets", json={"title": f"#{number}"}, headers=ALICE)
            assert created.status_code == 201, created.text
            references.append(created.json()["reference"])

        await asyncio.to_thread(stack.start_part, "notify")
        await receiver.wait_for(tickets, within=120)
        await smtp.wait_for(tickets, within=120)
        # Anything sent twice would arrive right behind the rest: give it the chance.
        await asyncio.sleep(2)

    assert all(delivery.verified for delivery in receiver.received)
    deliveries_per_id = Counter(receiver.ids())
    assert len(deliveries_per_id) == tickets
    assert set(deliveries_per_id.values()) == {1}
    announced = [delivery.event["data"]["ticket"]["reference"] for delivery in receiver.received]
    assert sorted(announced) == references
    acknowledged = Counter(message["Subject"].split("]")[0][1:] for message in smtp.messages)
    assert acknowledged == Counter(references)

"""`deskside_client` against the real stack: four processes over HTTP, through the gateway."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from deskside_client import (
    Conflict,
    DesksideClient,
    DesksideConnectionError,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    WebhookVerificationFailed,
    verify_webhook,
)
from deskside_contracts.events import Event
from deskside_contracts.inventory import Ownership, TechnologyKind
from deskside_contracts.tickets import TicketCreate, TicketRead, TicketStatus
from deskside_kit.devstack import Stack
from tests.client.conftest import (
    CHECKIN_SECRET,
    FAST_RETRIES,
    INBOUND_SECRET,
    MakeClient,
    token,
)
from tests.support.receivers import ReceivedWebhook, WebhookReceiver


class DropFirstAnswer(httpx.AsyncBaseTransport):
    """Sends every request on; the first answer to `method path` is lost after the server acted."""

    def __init__(self, method: str, path: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.method, self.path = method, path
        self.sent: list[httpx.Request] = []
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.sent.append(request)
        if request.method == self.method and request.url.path == self.path and not self.dropped:
            await response.aread()
            await response.aclose()
            self.dropped += 1
            raise httpx.ReadError("the connection broke before the answer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class AnswersFirst(httpx.AsyncBaseTransport):
    """Answers the first `count` requests itself with `status` (as a busy gateway would)."""

    def __init__(self, status: int, count: int, headers: dict[str, str] | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.status, self.left, self.headers = status, count, headers or {}
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if self.left > 0:
            self.left -= 1
            problem = {"type": "about:blank", "title": "Busy", "status": self.status}
            return httpx.Response(
                self.status,
                headers={"Content-Type": "application/problem+json", **self.headers},
                content=json.dumps(problem).encode(),
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def client_over(stack: Stack, transport: httpx.AsyncBaseTransport, sub: str) -> DesksideClient:
    return DesksideClient(
        stack.gateway_url,
        token(sub),
        retries=FAST_RETRIES,
        http_client=httpx.AsyncClient(transport=transport),
    )


class TestTickets:
    async def test_create_then_get_by_reference_and_by_id(self, make_client: MakeClient) -> None:
        alice = make_client("alice")
        created = await alice.tickets.create(
            title="Dropbox stopped syncing on my iPad", description="Since this morning."
        )
        assert isinstance(created, TicketRead)
        assert created.reference.startswith("SD-")
        assert created.status is TicketStatus.NEW
        by_reference = await alice.tickets.get(created.reference)
        by_id = await alice.tickets.get(created.id)
        assert by_reference == by_id
        assert by_id.title == "Dropbox stopped syncing on my iPad"

    async def test_a_contracts_model_is_accepted_too(self, make_client: MakeClient) -> None:
        alice = make_client("alice")
        created = await alice.tickets.create(TicketCreate(title="Gmail asks for my password"))
        assert created.title == "Gmail asks for my password"
        with pytest.raises(TypeError):
            await alice.tickets.create(TicketCreate(title="both"), title="both")

    async def test_iterate_follows_cursors_lazily(self, stack: Stack) -> None:
        requests: list[httpx.Request] = []

        async def count(request: httpx.Request) -> None:
            requests.append(request)

        async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
            pager = DesksideClient(stack.gateway_url, token("pager"), http_client=http)
            titles = [f"Pager ticket {n}" for n in range(5)]
            for title in titles:
                await pager.tickets.create(title=title)
            requests.clear()

            seen = [t.title async for t in pager.tickets.iterate(page_size=2, sort="created_at")]
            assert seen == titles
            assert len(requests) == 3  # pages of 2, 2 and 1
            assert [r.url.params.get("cursor") is None for r in requests] == [True, False, False]

            requests.clear()
            async for _first in pager.tickets.iterate(page_size=2):
                break
            assert len(requests) == 1  # nothing fetched beyond what was used

            page = await pager.tickets.list(limit=2, q="Pager")
            assert len(page.items) == 2
            assert page.next_cursor is not None

    async def test_filters_reach_the_server(self, make_client: MakeClient) -> None:
        agent = make_client("agnes", "agent")
        ticket = await make_client("filtered").tickets.create(title="Evernote lost my notes")
        await agent.tickets.start(ticket.reference)
        in_progress = [
            t.reference
            async for t in agent.tickets.iterate(status=["in_progress"], requester="filtered")
        ]
        assert in_progress == [ticket.reference]
        assert [t async for t in agent.tickets.iterate(status="new", requester="filtered")] == []

    async def test_a_lifecycle_with_if_match(self, make_client: MakeClient) -> None:
        requester, agent = make_client("bob"), make_client("agnes", "agent")
        ticket = await requester.tickets.create(title="Prezi will not open the deck")
        started = await agent.tickets.start(ticket.reference, if_match=ticket.version)
        comment = await agent.tickets.comment(ticket.reference, "Which browser do you use?")
        assert comment.body == "Which browser do you use?"
        # The first public reply is a change too (it stops the first-response clock).
        replied = await agent.tickets.get(ticket.reference)
        assert replied.version > started.version
        resolved = await agent.tickets.resolve(
            ticket.reference, "Cleared the cache.", if_match=replied.version
        )
        assert resolved.status is TicketStatus.RESOLVED
        closed = await agent.tickets.close(ticket.reference, if_match=resolved.version)
        assert closed.status is TicketStatus.CLOSED
        bodies = [c.body async for c in requester.tickets.comments(ticket.reference)]
        assert bodies == ["Which browser do you use?"]


class TestErrors:
    async def test_a_missing_ticket_is_not_found(self, make_client: MakeClient) -> None:
        with pytest.raises(NotFound) as raised:
            await make_client("alice").tickets.get("SD-999999")
        error = raised.value
        assert error.status == 404
        assert error.slug.endswith("not-found")
        assert error.title
        assert error.request_id

    async def test_a_stale_if_match_is_precondition_failed(self, make_client: MakeClient) -> None:
        alice = make_client("alice")
        ticket = await alice.tickets.create(title="OneDrive conflict copies")
        changed = await alice.tickets.update(
            ticket.reference, description="Every file twice.", if_match=ticket.version
        )
        assert changed.version == ticket.version + 1
        with pytest.raises(PreconditionFailed) as raised:
            await alice.tickets.update(ticket.reference, title="Stale", if_match=ticket.version)
        assert raised.value.status == 412
        assert raised.value.current_version == changed.version
        # Quoted ETags are taken as they are.
        again = await alice.tickets.update(
            ticket.reference, title="Fresh", if_match=f'"{changed.version}"'
        )
        assert again.title == "Fresh"

    async def test_invalid_input_lists_the_fields(self, make_client: MakeClient) -> None:
        with pytest.raises(Unprocessable) as raised:
            await make_client("alice").request("POST", "/v1/tickets", json={"title": ""})
        assert raised.value.status == 422
        assert any(problem.field.endswith("title") for problem in raised.value.field_errors)

    async def test_an_invalid_move_is_a_conflict(self, make_client: MakeClient) -> None:
        alice, agent = make_client("alice"), make_client("agnes", "agent")
        ticket = await alice.tickets.create(title="Cannot close what is new")
        with pytest.raises(Conflict):
            await agent.tickets.reopen(ticket.reference, "Not even resolved")

    async def test_a_bad_token_is_unauthorized(self, stack: Stack) -> None:
        async with DesksideClient(stack.gateway_url, "not-a-jwt") as anonymous:
            with pytest.raises(Unauthorized) as raised:
                await anonymous.tickets.list()
        assert raised.value.status == 401


class TestRetries:
    async def test_a_create_whose_answer_was_lost_is_retried_once_with_its_key(
        self, stack: Stack
    ) -> None:
        transport = DropFirstAnswer("POST", "/v1/tickets")
        async with client_over(stack, transport, "carol") as carol:
            ticket = await carol.tickets.create(title="iCloud keychain not syncing")
            assert transport.dropped == 1
            creates = [r for r in transport.sent if r.method == "POST"]
            assert len(creates) == 2
            keys = {r.headers["Idempotency-Key"] for r in creates}
            assert len(keys) == 1  # the retry carried the first try's key
            mine = [t async for t in carol.tickets.iterate(q="keychain")]
            assert [t.id for t in mine] == [ticket.id]  # one ticket, not two
        await transport.aclose()

    async def test_a_comment_whose_answer_was_lost_is_not_sent_twice(self, stack: Stack) -> None:
        async with DesksideClient(stack.gateway_url, token("dave"), retries=0) as dave:
            ticket = await dave.tickets.create(title="Slack notifications are silent")
        path = f"/v1/tickets/{ticket.reference}/comments"
        transport = DropFirstAnswer("POST", path)
        async with client_over(stack, transport, "dave") as dave:
            with pytest.raises(DesksideConnectionError):
                await dave.tickets.comment(ticket.reference, "Still silent.")
            assert len([r for r in transport.sent if r.method == "POST"]) == 1
            comments = [c async for c in dave.tickets.comments(ticket.reference)]
            assert len(comments) == 1
        await transport.aclose()

    async def test_429_is_retried_after_the_time_it_names(self, stack: Stack) -> None:
        transport = AnswersFirst(429, 2, {"Retry-After": "0.2"})
        async with client_over(stack, transport, "erin") as erin:
            began = time.monotonic()
            page = await erin.tickets.list()
            assert time.monotonic() - began >= 0.4
        assert page.items == []
        assert len(transport.sent) == 3
        await transport.aclose()

    async def test_429_beyond_the_retries_is_raised_with_retry_after(self, stack: Stack) -> None:
        transport = AnswersFirst(429, 10, {"Retry-After": "0"})
        async with client_over(stack, transport, "erin") as erin:
            with pytest.raises(RateLimited) as raised:
                await erin.tickets.list()
        assert raised.value.retry_after == 0
        assert len(transport.sent) == 1 + FAST_RETRIES.retries
        await transport.aclose()

    async def test_503_is_retried_for_reads_but_not_for_state_changes(self, stack: Stack) -> None:
        transport = AnswersFirst(503, 1)
        async with client_over(stack, transport, "frank") as frank:
            await frank.tickets.list()
            assert len(transport.sent) == 2
            transport.left = 1
            with pytest.raises(ServiceUnavailable):
                await frank.tickets.start("SD-000001")
            assert len(transport.sent) == 3
        await transport.aclose()


async def _delivery(
    receiver: WebhookReceiver, wanted: Callable[[dict[str, Any]], bool], within: float = 15.0
) -> ReceivedWebhook:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for received in receiver.received:
            if wanted(received.event):
                return received
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such webhook among {len(receiver.received)} received")


class TestWebhooks:
    async def test_a_subscription_receives_a_verified_event(
        self, make_client: MakeClient, receiver: WebhookReceiver
    ) -> None:
        admin, gina = make_client("root", "admin"), make_client("gina")
        subscription = await admin.webhooks.create(
            url=receiver.url, event_types=["ticket.created"], description="client tests"
        )
        assert subscription.secret.startswith("whsec_")
        assert (await admin.webhooks.get(subscription.id)).url == receiver.url
        listed = [w.id async for w in admin.webhooks.iterate()]
        assert subscription.id in listed

        ticket = await gina.tickets.create(title="Zoom drops every call")
        delivery = await _delivery(
            receiver,
            lambda event: event.get("data", {}).get("ticket", {}).get("id") == ticket.id,
        )
        event = verify_webhook(subscription.secret, delivery.body, delivery.headers)
        assert isinstance(event, Event)
        assert event.type == "ticket.created"
        assert event.id == delivery.webhook_id
        assert event.data["ticket"]["reference"] == ticket.reference

        with pytest.raises(WebhookVerificationFailed):
            verify_webhook(subscription.secret, delivery.body + b" ", delivery.headers)
        with pytest.raises(WebhookVerificationFailed):
            verify_webhook(
                subscription.secret,
                delivery.body,
                {**delivery.headers, "webhook-timestamp": str(int(time.time()) - 3600)},
            )
        with pytest.raises(WebhookVerificationFailed):
            verify_webhook("whsec_" + "A" * 44, delivery.body, delivery.headers)
        other = await admin.webhooks.rotate_secret(subscription.id)
        assert other.secret != subscription.secret

        sent = await admin.webhooks.test(subscription.id)
        test_delivery = await _delivery(receiver, lambda event: event["id"] == sent.event_id)
        test_event = verify_webhook(
            [subscription.secret, other.secret], test_delivery.body, test_delivery.headers
        )
        assert test_event.type == "webhook.test"

        await admin.webhooks.delete(subscription.id)
        with pytest.raises(NotFound):
            await admin.webhooks.get(subscription.id)


class TestReportsAndInventory:
    async def test_reports(self, make_client: MakeClient) -> None:
        agent = make_client("agnes", "agent")
        summary = await agent.reports.summary()
        productivity = await agent.reports.productivity()
        adoption = await agent.reports.adoption()
        assert summary.from_ < summary.to
        assert productivity.from_ < productivity.to
        assert adoption.technologies is not None

    async def test_devices_catalog_and_a_signed_check_in(self, make_client: MakeClient) -> None:
        admin, hana = make_client("root", "admin"), make_client("hana")
        created = await admin.catalog.create(
            key="clientos",
            kind=TechnologyKind.DEVICE_PLATFORM,
            name="Client OS",
            category="phone",
            support_tier="supported",
        )
        platform = await hana.catalog.get(created.key)
        assert platform.kind is TechnologyKind.DEVICE_PLATFORM
        assert [t.key async for t in hana.catalog.iterate(q="Client OS")] == ["clientos"]
        device = await hana.devices.register(
            ownership=Ownership.PERSONAL, technology=platform.key, name="Hana's phone"
        )
        assert (await hana.devices.get(device.id)).name == "Hana's phone"
        renamed = await hana.devices.update(device.id, name="Work phone", if_match=device.version)
        assert renamed.name == "Work phone"

        result = await hana.inbound.checkin(
            CHECKIN_SECRET,
            external_id="mdm-1",
            owner_email="hana@example.com",
            owner_id="hana",
            ownership="personal",
            platform=platform.key,
        )
        assert result.device_id
        again = await hana.inbound.checkin(
            CHECKIN_SECRET,
            external_id="mdm-1",
            owner_email="hana@example.com",
            ownership="personal",
            platform=platform.key,
        )
        assert again.device_id == result.device_id

        await admin.catalog.create(
            key="clientdrive",
            kind=TechnologyKind.SERVICE,
            name="Client Drive",
            category="file_sharing",
            support_tier="supported",
        )
        account = await hana.accounts.declare(
            technology="clientdrive",
            identifier="hana@example.com",
            purpose="Sharing drawings with suppliers",
            data_classification="internal",
        )
        assert (await hana.accounts.get(account.id)).technology == "clientdrive"
        assert [a.id async for a in hana.accounts.iterate()] == [account.id]

        accepted = await hana.inbound.alert(
            INBOUND_SECRET, {"fingerprint": "disk-full-1", "title": "Disk full on the NAS"}
        )
        assert not accepted.duplicate
        with pytest.raises(Unauthorized):
            await hana.inbound.alert(
                "whsec_" + "B" * 44, {"fingerprint": "forged", "title": "Forged"}
            )

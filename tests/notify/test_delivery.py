"""The workers against real receivers: aiosmtpd for mail, a verifying endpoint for webhooks.

The workers run one round at a time here (`run_once`) with a test clock, so
retry schedules are checked exactly, without waiting for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from deskside_notify.app import create_app
from deskside_notify.delivery import Mailer
from tests.notify.conftest import ADMIN, SERVICE, SettingsFor, dispatcher_of, mailer_of
from tests.notify.factories import batch, ticket, ticket_event
from tests.support.apps import serving
from tests.support.receivers import (
    REFUSED_DOMAIN,
    MailServer,
    WebhookReceiver,
    mail_server,
    webhook_receiver,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def smtp() -> AsyncIterator[MailServer]:
    async with mail_server() as server:
        yield server


@pytest.fixture
async def smtp_client(
    settings_for: SettingsFor, smtp: MailServer
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        mail_transport="smtp",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_timeout=5.0,
    )
    async with serving(create_app(settings)) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


async def subscribe(client: httpx.AsyncClient, receiver: WebhookReceiver) -> dict[str, str]:
    response = await client.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["ticket.*"]}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    receiver.secret = created["secret"]
    return created


class TestMail:
    async def test_the_acknowledgement_goes_out_threaded(
        self, smtp_client: httpx.AsyncClient, smtp: MailServer
    ) -> None:
        read = ticket(reference="SD-000042")
        await smtp_client.post(
            "/internal/events", json=batch(ticket_event(read=read)), headers=SERVICE
        )

        sent = await mailer_of(smtp_client).run_once()

        assert sent == 1
        (message,) = smtp.messages
        assert "[SD-000042]" in message["Subject"]
        assert message["To"].addresses[0].addr_spec == "alice@example.com"
        assert message["In-Reply-To"] == f"<ticket.{read.id}@deskside.local>"
        assert message["References"] == f"<ticket.{read.id}@deskside.local>"
        assert message["Reply-To"].addresses[0].addr_spec == "helpdesk@deskside.local"
        assert message["Message-ID"].endswith("@deskside.local>")
        log = await smtp_client.get("/v1/notifications", headers=ADMIN)
        assert log.json()["items"][0]["status"] == "sent"

    async def test_mail_waits_while_the_server_refuses_and_then_all_of_it_arrives(
        self, smtp_client: httpx.AsyncClient, smtp: MailServer
    ) -> None:
        smtp.refuse(True)
        events = [ticket_event(read=ticket(reference=f"SD-{n:06d}")) for n in range(1, 6)]
        await smtp_client.post("/internal/events", json=batch(*events), headers=SERVICE)
        mailer = mailer_of(smtp_client)
        mailer.clock = clock = Clock()

        assert await mailer.run_once() == 5
        assert await mailer.run_once() == 0  # not due again yet
        waiting = await smtp_client.get("/v1/notifications?status=pending", headers=ADMIN)
        smtp.refuse(False)
        clock.advance(seconds=60)
        assert await mailer.run_once() == 5

        assert sorted(m["Subject"][:11] for m in smtp.messages) == [
            f"[SD-{n:06d}]" for n in range(1, 6)
        ]
        items = waiting.json()["items"]
        assert len(items) == 5
        assert all(item["attempts"] == 1 and "451" in item["last_error"] for item in items)

    async def test_a_round_of_mail_goes_over_one_connection(
        self, smtp_client: httpx.AsyncClient, smtp: MailServer
    ) -> None:
        events = [ticket_event(read=ticket(reference=f"SD-{n:06d}")) for n in range(1, 6)]
        await smtp_client.post("/internal/events", json=batch(*events), headers=SERVICE)

        assert await mailer_of(smtp_client).run_once() == 5

        assert len(smtp.messages) == 5
        assert smtp.connections == 1
        log = await smtp_client.get("/v1/notifications?status=sent", headers=ADMIN)
        assert len(log.json()["items"]) == 5

    async def test_a_server_that_hangs_up_between_mails_still_gets_all_of_them(
        self, smtp_client: httpx.AsyncClient, smtp: MailServer
    ) -> None:
        smtp.hang_up_after_each_message()
        events = [ticket_event(read=ticket(reference=f"SD-{n:06d}")) for n in range(1, 4)]
        await smtp_client.post("/internal/events", json=batch(*events), headers=SERVICE)

        assert await mailer_of(smtp_client).run_once() == 3

        assert sorted(m["Subject"][:11] for m in smtp.messages) == [
            f"[SD-{n:06d}]" for n in range(1, 4)
        ]
        assert smtp.connections == 3
        log = await smtp_client.get("/v1/notifications?status=sent", headers=ADMIN)
        assert len(log.json()["items"]) == 3

    async def test_a_refused_mail_in_a_round_does_not_stop_the_others(
        self, smtp_client: httpx.AsyncClient, smtp: MailServer
    ) -> None:
        await smtp_client.post(
            "/internal/events",
            json=batch(
                ticket_event(read=ticket(reference="SD-000001")),
                ticket_event(
                    read=ticket(reference="SD-000002", requester_email=f"x{REFUSED_DOMAIN}")
                ),
                ticket_event(read=ticket(reference="SD-000003")),
            ),
            headers=SERVICE,
        )

        assert await mailer_of(smtp_client).run_once() == 3

        assert sorted(m["Subject"][:11] for m in smtp.messages) == ["[SD-000001]", "[SD-000003]"]
        failed = await smtp_client.get("/v1/notifications?status=failed", headers=ADMIN)
        (refused,) = failed.json()["items"]
        assert refused["ticket_reference"] == "SD-000002"
        assert "550" in refused["last_error"]

    async def test_mail_a_dead_replica_had_claimed_is_sent_by_another_after_its_lease(
        self, smtp_client: httpx.AsyncClient, smtp: MailServer
    ) -> None:
        await smtp_client.post(
            "/internal/events",
            json=batch(ticket_event(read=ticket(reference="SD-000007"))),
            headers=SERVICE,
        )
        survivor = mailer_of(smtp_client)
        survivor.clock = clock = Clock()
        sending = asyncio.Event()

        class HangingTransport:
            def connection(self) -> contextlib.nullcontext[None]:
                return contextlib.nullcontext()

            async def send(self, message: object) -> None:
                sending.set()
                await asyncio.Event().wait()

        doomed = Mailer(
            survivor.sessions,
            HangingTransport(),
            survivor.settings,
            clock=clock,  # type: ignore[arg-type]
        )
        dying = asyncio.create_task(doomed.run_once())
        await sending.wait()
        dying.cancel()  # the replica is gone between claiming the mail and sending it
        with contextlib.suppress(asyncio.CancelledError):
            await dying

        assert await survivor.run_once() == 0  # still leased to the dead replica
        clock.advance(minutes=3)
        assert await survivor.run_once() == 1

        (message,) = smtp.messages
        assert "[SD-000007]" in message["Subject"]

    async def test_a_round_stopped_midway_records_the_mail_it_sent(
        self, smtp_client: httpx.AsyncClient
    ) -> None:
        await smtp_client.post(
            "/internal/events",
            json=batch(
                ticket_event(read=ticket(reference="SD-000001")),
                ticket_event(read=ticket(reference="SD-000002")),
            ),
            headers=SERVICE,
        )
        survivor = mailer_of(smtp_client)
        hanging = asyncio.Event()
        sent: list[str] = []

        class SecondMailHangs:
            def connection(self) -> contextlib.nullcontext[None]:
                return contextlib.nullcontext()

            async def send(self, message: Message) -> None:
                if sent:
                    hanging.set()
                    await asyncio.Event().wait()
                sent.append(str(message["Subject"]))

        stopping = Mailer(survivor.sessions, SecondMailHangs(), survivor.settings)
        round_ = asyncio.create_task(stopping.run_once())
        await hanging.wait()
        round_.cancel()  # a shutdown, between the first mail and the second
        with contextlib.suppress(asyncio.CancelledError):
            await round_

        log = (await smtp_client.get("/v1/notifications", headers=ADMIN)).json()["items"]
        by_ticket = {item["ticket_reference"]: item for item in log}
        (first,) = [reference for reference in by_ticket if reference in sent[0]]
        assert by_ticket[first]["status"] == "sent"
        (second,) = set(by_ticket) - {first}
        assert by_ticket[second]["status"] == "pending"

    async def test_the_embedded_default_writes_eml_files(
        self, settings_for: SettingsFor, tmp_path: Path
    ) -> None:
        async with serving(create_app(settings_for(mail_dir=tmp_path / "mail"))) as client:
            await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)
            await mailer_of(client).run_once()

        (path,) = (tmp_path / "mail").glob("*.eml")
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert "[SD-000042]" in str(message["Subject"])


class TestWebhookDelivery:
    async def test_a_failure_is_retried_on_the_schedule_with_the_same_id(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        hook = await subscribe(client, receiver)
        receiver.script = [500, 200]
        event = ticket_event()
        await client.post("/internal/events", json=batch(event), headers=SERVICE)
        dispatcher = dispatcher_of(client)
        dispatcher.clock = clock = Clock()

        assert await dispatcher.run_once() == 1  # the immediate attempt: 500
        pending = (await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=ADMIN)).json()
        due = datetime.fromisoformat(pending["items"][0]["next_attempt_at"])
        assert await dispatcher.run_once() == 0  # nothing is due before the 5 s step
        clock.advance(seconds=6.1)
        assert await dispatcher.run_once() == 1  # the retry: 200

        # The 5 s step of the schedule, give or take its 20 % jitter.
        assert (
            timedelta(seconds=4)
            <= due - (clock.now - timedelta(seconds=6.1))
            <= timedelta(seconds=6)
        )
        assert receiver.ids() == [event.id, event.id]
        assert all(item.verified for item in receiver.received)
        assert receiver.received[0].body == receiver.received[1].body
        detail = await client.get(f"/v1/deliveries/{pending['items'][0]['id']}", headers=ADMIN)
        assert detail.json()["status"] == "succeeded"
        assert (detail.json()["attempts"], detail.json()["last_status_code"]) == (2, 200)
        assert detail.json()["last_error"] is None
        assert detail.json()["next_attempt_at"] is None
        assert detail.json()["completed_at"] is not None
        assert [a["status_code"] for a in detail.json()["attempt_log"]] == [500, 200]
        assert detail.json()["attempt_log"][0]["response_excerpt"] == "nope"

    async def test_a_slow_endpoint_does_not_hold_back_the_record_of_a_fast_one(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        async with webhook_receiver() as slow:
            slow.hold = asyncio.Event()
            fast_hook = await subscribe(client, receiver)
            await subscribe(client, slow)
            await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)

            round_ = asyncio.create_task(dispatcher_of(client).run_once())
            try:
                await slow.wait_for(1)
                deliveries = f"/v1/webhooks/{fast_hook['id']}/deliveries?status=succeeded"
                recorded = []
                for _ in range(200):
                    recorded = (await client.get(deliveries, headers=ADMIN)).json()["items"]
                    if recorded:
                        break
                    await asyncio.sleep(0.05)
                still_out = not round_.done()
            finally:
                slow.hold.set()  # else the slow receiver never answers and cannot stop
            claimed = await round_

        assert claimed == 2
        assert len(recorded) == 1
        assert still_out
        assert len(receiver.received) == 1

    async def test_a_sender_failing_on_one_endpoint_leaves_the_others_recorded(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        working = await subscribe(client, receiver)
        broken = await client.post(
            "/v1/webhooks",
            json={"url": "https://broken.example.com/hooks", "event_types": ["ticket.*"]},
            headers=ADMIN,
        )
        await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)
        dispatcher = dispatcher_of(client)
        post = dispatcher.sender.post

        async def post_or_fail(url: str, body: bytes, headers: dict[str, str]) -> object:
            if "broken" in url:
                raise RuntimeError("a bug in the sender")
            return await post(url, body, headers)

        monkeypatch.setattr(dispatcher.sender, "post", post_or_fail)

        assert await dispatcher.run_once() == 2

        def deliveries(hook_id: str) -> str:
            return f"/v1/webhooks/{hook_id}/deliveries"

        done = (await client.get(deliveries(working["id"]), headers=ADMIN)).json()["items"]
        failed = (await client.get(deliveries(broken.json()["id"]), headers=ADMIN)).json()["items"]
        assert [item["status"] for item in done] == ["succeeded"]
        assert [(item["status"], item["attempts"]) for item in failed] == [("pending", 1)]
        assert failed[0]["last_error"] == "RuntimeError"

    async def test_a_410_disables_the_endpoint_and_tells_the_admins(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        hook = await subscribe(client, receiver)
        receiver.script = [410]
        await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)

        await dispatcher_of(client).run_once()
        await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)
        await dispatcher_of(client).run_once()

        fetched = (await client.get(f"/v1/webhooks/{hook['id']}", headers=ADMIN)).json()
        assert fetched["enabled"] is False
        assert "410" in fetched["disabled_reason"]
        assert len(receiver.received) == 1  # the second event was not attempted
        notices = await client.get("/v1/notifications?recipient=ops@example.com", headers=ADMIN)
        assert [n["event_type"] for n in notices.json()["items"]] == ["webhook.disabled"]

    async def test_an_endpoint_failing_message_after_message_is_disabled(
        self, settings_for: SettingsFor, receiver: WebhookReceiver
    ) -> None:
        async with serving(create_app(settings_for(webhook_disable_after=2))) as client:
            hook = await subscribe(client, receiver)
            receiver.default_status = 503
            await client.post(
                "/internal/events", json=batch(ticket_event(), ticket_event()), headers=SERVICE
            )
            dispatcher = dispatcher_of(client)
            dispatcher.clock = clock = Clock()

            for _ in range(12):  # more rounds than the schedule has steps
                await dispatcher.run_once()
                clock.advance(hours=13)

            fetched = (await client.get(f"/v1/webhooks/{hook['id']}", headers=ADMIN)).json()
            failed = await client.get(
                f"/v1/webhooks/{hook['id']}/deliveries?status=failed", headers=ADMIN
            )

        assert len(receiver.received) == 2 * 8  # the immediate attempt and seven retries each
        assert fetched["enabled"] is False
        assert "2 messages in a row" in fetched["disabled_reason"]
        assert len(failed.json()["items"]) == 2

    async def test_during_a_rotation_both_secrets_verify(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        hook = await subscribe(client, receiver)
        rotated = await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=ADMIN)
        await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)

        await dispatcher_of(client).run_once()

        (received,) = receiver.received
        Webhook(hook["secret"]).verify(received.body, received.headers)
        Webhook(rotated.json()["secret"]).verify(received.body, received.headers)
        assert len(received.headers["webhook-signature"].split()) == 2

    async def test_a_manual_retry_sends_again(
        self, client: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        hook = await subscribe(client, receiver)
        queued = await client.post(f"/v1/webhooks/{hook['id']}/test", headers=ADMIN)
        await dispatcher_of(client).run_once()

        retried = await client.post(f"/v1/deliveries/{queued.json()['id']}/retry", headers=ADMIN)
        await dispatcher_of(client).run_once()

        assert retried.status_code == 202
        assert [item.event["type"] for item in receiver.received] == ["webhook.test"] * 2
        assert all(item.verified for item in receiver.received)


class TestWorkersWokenByCommits:
    """The workers look only once an hour here: whatever goes out, a commit's wake sent."""

    @pytest.fixture
    async def woken(
        self, settings_for: SettingsFor, smtp: MailServer
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = settings_for(
            delivery_wake_on_commit=True,
            mail_transport="smtp",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_security="none",
            smtp_timeout=5.0,
        )
        async with serving(create_app(settings)) as client:
            yield client

    async def test_an_event_taken_in_is_mailed_and_delivered_at_once(
        self, woken: httpx.AsyncClient, receiver: WebhookReceiver, smtp: MailServer
    ) -> None:
        await subscribe(woken, receiver)

        taken = await woken.post(
            "/internal/events",
            json=batch(ticket_event(read=ticket(reference="SD-000042"))),
            headers=SERVICE,
        )
        await receiver.wait_for(1, within=2)
        (acknowledgement,) = await smtp.wait_for(1, within=2)

        assert taken.status_code == 200, taken.text
        (delivery,) = receiver.received
        assert delivery.verified
        assert delivery.event["type"] == "ticket.created"
        assert "[SD-000042]" in acknowledgement["Subject"]

    async def test_a_test_event_and_a_manual_retry_go_out_at_once(
        self, woken: httpx.AsyncClient, receiver: WebhookReceiver
    ) -> None:
        hook = await subscribe(woken, receiver)

        queued = await woken.post(f"/v1/webhooks/{hook['id']}/test", headers=ADMIN)
        await receiver.wait_for(1, within=2)
        retried = await woken.post(f"/v1/deliveries/{queued.json()['id']}/retry", headers=ADMIN)
        await receiver.wait_for(2, within=2)

        assert (queued.status_code, retried.status_code) == (202, 202)
        assert [item.event["type"] for item in receiver.received] == ["webhook.test"] * 2

    async def test_the_notice_of_a_disabled_endpoint_is_mailed_at_once(
        self, woken: httpx.AsyncClient, receiver: WebhookReceiver, smtp: MailServer
    ) -> None:
        hook = await subscribe(woken, receiver)
        receiver.script = [410]

        await woken.post(f"/v1/webhooks/{hook['id']}/test", headers=ADMIN)
        notices = await smtp.wait_for(2, within=2)

        # The admins, and the subscription's owner.
        assert sorted(notice["To"].addresses[0].addr_spec for notice in notices) == [
            "ops@example.com",
            "root@example.com",
        ]
        fetched = await woken.get(f"/v1/webhooks/{hook['id']}", headers=ADMIN)
        assert fetched.json()["enabled"] is False

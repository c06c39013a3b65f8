"""Inbound email and monitoring alerts: signed, stored, then turned into tickets."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlmodel import select

from deskside_kit.database import utc_now
from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from deskside_tickets.inbound import InboundProcessor, strip_quoted
from deskside_tickets.models import AlertTicket, InboundMessage, Ticket
from deskside_tickets.repository import TicketRepository
from tests.support.apps import app_sessions, serving
from tests.support.plans import plan_of_query
from tests.tickets.conftest import (
    AGENT,
    ALICE,
    MONITOR_SECRET,
    PROBLEM,
    open_ticket,
    outbox_events,
    signed,
)

RFC822 = "message/rfc822"
STRANGERS_SECRET = "whsec_" + base64.b64encode(b"a-secret-no-integration-has-0123").decode()


@pytest.fixture
async def client(settings: TicketsSettings) -> AsyncIterator[httpx.AsyncClient]:
    # Only the explicit `process` below works the messages off: each test says when.
    quiet = settings.model_copy(update={"inbound_process_at_once": False})
    async with serving(create_app(quiet)) as client:
        yield client


def processor(client: httpx.AsyncClient) -> InboundProcessor:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    found: InboundProcessor = transport.app.state.inbound_processor  # type: ignore[attr-defined]
    return found


async def process(client: httpx.AsyncClient) -> int:
    return await processor(client).run_once()


def mail(
    *,
    sender: str = "Carol Cole <Carol@Example.com>",
    subject: str = "VPN drops every hour",
    text: str = "It disconnects at the top of every hour.",
    message_id: str = "<vpn-1@mail.example.com>",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "help@desk.example.com"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes()


async def post_mail(
    client: httpx.AsyncClient, raw: bytes, webhook_id: str, content_type: str = RFC822
) -> httpx.Response:
    return await client.post(
        "/v1/inbound/email",
        content=raw,
        headers=signed(raw, webhook_id, content_type=content_type),
    )


async def post_alerts(
    client: httpx.AsyncClient, payload: dict[str, Any], webhook_id: str
) -> httpx.Response:
    raw = json.dumps(payload).encode()
    return await client.post(
        "/v1/inbound/alerts", content=raw, headers=signed(raw, webhook_id, secret=MONITOR_SECRET)
    )


async def tickets(client: httpx.AsyncClient) -> list[Ticket]:
    async with app_sessions(client).reading() as session:
        rows = await session.exec(select(Ticket).order_by(Ticket.number))  # type: ignore[arg-type]
        return list(rows.all())


async def inbound_rows(client: httpx.AsyncClient) -> list[InboundMessage]:
    async with app_sessions(client).reading() as session:
        return list((await session.exec(select(InboundMessage))).all())


async def comments(client: httpx.AsyncClient, ref: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/tickets/{ref}/comments", headers=AGENT)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def reply_text() -> str:
    return (
        "Still broken after the update.\n"
        "\n"
        "On Mon, 23 Nov 2026 at 09:00, Deskside <help@desk.example.com> wrote:\n"
        "> We pushed a fix, does it work now?\n"
        "> Agnes\n"
    )


class TestNewMail:
    async def test_a_raw_mail_opens_a_ticket_by_email(self, client: httpx.AsyncClient) -> None:
        response = await post_mail(client, mail(), "wh_1")
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert (accepted["status"], accepted["duplicate"]) == ("pending", False)
        assert await tickets(client) == []  # stored only: the processor does the work

        assert await process(client) == 1
        [ticket] = await tickets(client)
        assert (ticket.channel, ticket.title) == ("email", "VPN drops every hour")
        assert ticket.description == "It disconnects at the top of every hour."
        # Nobody known by that address: the address itself, lowercased, is the person.
        assert (ticket.requester_id, ticket.requester_email, ticket.requester_name) == (
            "carol@example.com",
            "carol@example.com",
            "Carol Cole",
        )
        assert [e.type for e in await outbox_events(client)] == ["ticket.created"]

        status = await client.get(f"/v1/inbound/email/{accepted['id']}", headers=AGENT)
        assert status.status_code == 200, status.text
        read = status.json()
        assert (read["status"], read["attempts"], read["ticket_id"]) == ("processed", 1, ticket.id)
        assert read["outcome"] == [
            {"action": "created", "ticket_id": ticket.id, "reference": ticket.reference}
        ]
        wrong_kind = await client.get(f"/v1/inbound/alerts/{accepted['id']}", headers=AGENT)
        assert wrong_kind.status_code == 404

    async def test_a_parsed_mail_from_a_known_requester_keeps_their_id(
        self, client: httpx.AsyncClient
    ) -> None:
        await open_ticket(client, ALICE)  # Alice's earlier ticket says who alice@… is
        form = {
            "from": "ALICE@example.com",
            "from_name": "Alice Ames",
            "subject": "New laptop",
            "text": "",
            "html": "<p>My laptop <b>will not</b> boot.</p><script>x()</script>",
            "message_id": "laptop-1@mail.example.com",
        }
        raw = json.dumps(form).encode()
        assert (await post_mail(client, raw, "wh_json", "application/json")).status_code == 202
        await process(client)
        newest = (await tickets(client))[-1]
        assert (newest.requester_id, newest.channel) == ("alice", "email")
        assert newest.description == "My laptop will not boot."

    async def test_auto_replies_are_stored_and_ignored(self, client: httpx.AsyncClient) -> None:
        out_of_office = mail(subject="Out of office", Auto_Submitted="auto-replied")
        bulk = mail(message_id="<news@example.com>", Precedence="bulk")
        for number, raw in enumerate((out_of_office, bulk)):
            assert (await post_mail(client, raw, f"wh_auto_{number}")).status_code == 202
        assert await process(client) == 2
        assert await tickets(client) == []
        rows = await inbound_rows(client)
        assert [(row.status, row.outcome) for row in rows] == [
            ("processed", [{"action": "ignored", "reason": "an automatic reply"}])
        ] * 2


class TestReplies:
    async def test_the_requesters_reply_with_the_reference_is_a_public_comment(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        raw = mail(
            sender="Alice Ames <alice@example.com>",
            subject=f"Re: [{ticket['reference']}] Dropbox stopped syncing",
            text=reply_text(),
            message_id="<reply-1@mail.example.com>",
        )
        await post_mail(client, raw, "wh_reply")
        await process(client)

        assert len(await tickets(client)) == 1
        [comment] = await comments(client, ticket["reference"])
        assert comment["body"] == "Still broken after the update."
        assert (comment["author"]["id"], comment["internal"]) == ("alice", False)
        events = await outbox_events(client)
        assert events[-1].type == "ticket.commented"

    async def test_the_thread_id_finds_the_ticket_without_a_reference(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        root = f"<ticket.{ticket['id']}@desk.example.com>"
        raw = mail(
            sender="alice@example.com",
            subject="Re: your ticket",
            text="Thanks, that worked.",
            message_id="<reply-2@mail.example.com>",
            In_Reply_To="<notify-7@desk.example.com>",
            References=f"{root} <notify-7@desk.example.com>",
        )
        await post_mail(client, raw, "wh_thread")
        await process(client)
        assert [c["body"] for c in await comments(client, ticket["reference"])] == [
            "Thanks, that worked."
        ]

    async def test_a_watcher_may_reply_but_a_stranger_opens_a_ticket(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        ref = ticket["reference"]
        watcher = {"id": "dave", "email": "dave@example.com"}
        await client.post(f"/v1/tickets/{ref}/watchers", json=watcher, headers=ALICE)
        for number, sender in enumerate(("Dave@example.com", "mallory@example.net")):
            raw = mail(
                sender=sender,
                subject=f"Re: [{ref}] Dropbox",
                text=f"Note {number}",
                message_id=f"<m{number}@example.com>",
            )
            await post_mail(client, raw, f"wh_{number}")
        await process(client)

        assert [(c["author"]["id"], c["body"]) for c in await comments(client, ref)] == [
            ("dave", "Note 0")
        ]
        stranger = (await tickets(client))[-1]
        assert (stranger.requester_id, stranger.title) == (
            "mallory@example.net",
            f"Re: [{ref}] Dropbox",
        )

    async def test_the_requester_reopens_a_resolved_ticket_by_replying(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        ref = ticket["reference"]
        resolved = await client.post(
            f"/v1/tickets/{ref}/resolve", json={"resolution": "Relinked."}, headers=AGENT
        )
        assert resolved.status_code == 200
        raw = mail(sender="alice@example.com", subject=f"Re: [{ref}]", text="It is back.")
        await post_mail(client, raw, "wh_reopen")
        await process(client)

        again = (await client.get(f"/v1/tickets/{ref}", headers=AGENT)).json()
        assert (again["status"], again["resolution"]) == ("in_progress", None)
        assert [c["body"] for c in await comments(client, ref)] == ["It is back."]
        types = [e.type for e in await outbox_events(client)]
        assert types[-2:] == ["ticket.reopened", "ticket.commented"]

    async def test_a_reply_to_a_ticket_closed_long_ago_opens_a_linked_follow_up(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        ref = ticket["reference"]
        await client.post(f"/v1/tickets/{ref}/close", json={}, headers=AGENT)
        async with app_sessions(client).write_transaction() as session:
            row = (await session.exec(select(Ticket).where(Ticket.id == ticket["id"]))).one()
            row.closed_at = utc_now() - timedelta(days=60)
        raw = mail(sender="alice@example.com", subject=f"Re: [{ref}]", text="Again!")
        await post_mail(client, raw, "wh_late")
        await process(client)

        old, follow_up = await tickets(client)
        assert old.status == "closed"
        assert follow_up.requester_id == "alice"
        assert follow_up.description.startswith(f"Follows up {ref}, which is closed.")
        links = await client.get(f"/v1/tickets/{follow_up.reference}/links", headers=AGENT)
        assert [link["reference"] for link in links.json()] == [ref]


class TestDuplicates:
    async def test_the_same_mail_twice_has_one_effect(self, client: httpx.AsyncClient) -> None:
        first = await post_mail(client, mail(), "wh_a")
        # Delivered again by a second mailbox: another webhook-id, the same Message-ID.
        second = await post_mail(client, mail(), "wh_b")
        assert second.status_code == 202
        assert second.json() == {**first.json(), "duplicate": True}
        await process(client)
        assert len(await tickets(client)) == 1

    async def test_a_retried_delivery_has_one_effect(self, client: httpx.AsyncClient) -> None:
        first = await post_mail(client, mail(), "wh_same")
        await process(client)
        retry = await post_mail(client, mail(), "wh_same")
        assert retry.json() == {"id": first.json()["id"], "status": "processed", "duplicate": True}
        assert await process(client) == 0
        assert len(await tickets(client)) == 1
        assert len(await inbound_rows(client)) == 1


class TestSignatures:
    @pytest.mark.parametrize("tamper", ["other-secret", "changed-body", "old", "future", "none"])
    async def test_a_bad_signature_is_401_and_stores_nothing(
        self, client: httpx.AsyncClient, tamper: str
    ) -> None:
        raw = mail()
        headers = signed(raw, "wh_bad", content_type=RFC822)
        if tamper == "other-secret":
            headers = signed(raw, "wh_bad", secret=STRANGERS_SECRET, content_type=RFC822)
        elif tamper == "changed-body":
            raw = mail(subject="Something else")
        elif tamper in ("old", "future"):
            shift = timedelta(minutes=6) * (-1 if tamper == "old" else 1)
            at = datetime.now(UTC) + shift
            headers = signed(raw, "wh_bad", content_type=RFC822, at=at)
        else:
            del headers["webhook-signature"]
        response = await client.post("/v1/inbound/email", content=raw, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert await inbound_rows(client) == []

    async def test_a_bearer_token_is_not_a_signature(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/inbound/alerts", json={"fingerprint": "f", "title": "t"}, headers=AGENT
        )
        assert response.status_code == 401

    async def test_a_malformed_signed_body_is_422_and_stores_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        raw = b'{"alerts": "not a list", "version": "4"}'
        response = await client.post(
            "/v1/inbound/alerts", content=raw, headers=signed(raw, "wh_x", secret=MONITOR_SECRET)
        )
        assert response.status_code == 422
        assert await inbound_rows(client) == []


def alertmanager(status: str, *alerts: tuple[str, str, str]) -> dict[str, Any]:
    """A version 4 webhook; each alert is (fingerprint, status, severity)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "deskside",
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com",
        "alerts": [
            {
                "status": alert_status,
                "labels": {"alertname": "DiskFull", "instance": fingerprint, "severity": severity},
                "annotations": {"summary": "Disk almost full", "description": "Over 95% used."},
                "startsAt": "2026-11-23T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com/graph",
                "fingerprint": fingerprint,
            }
            for fingerprint, alert_status, severity in alerts
        ],
    }


class TestAlerts:
    async def test_one_ticket_per_fingerprint_and_repeats_are_noted(
        self, client: httpx.AsyncClient
    ) -> None:
        firing = alertmanager("firing", ("db-1", "firing", "critical"), ("web-1", "firing", "info"))
        assert (await post_alerts(client, firing, "am_1")).status_code == 202
        await process(client)
        db, web = await tickets(client)
        assert (db.channel, db.title, db.impact, db.urgency) == (
            "alert",
            "Disk almost full on db-1",
            "high",
            "critical",
        )
        assert (web.impact, web.urgency) == ("low", "low")
        assert "Over 95% used." in db.description

        again = alertmanager("firing", ("db-1", "firing", "critical"))
        await post_alerts(client, again, "am_2")
        quiet = alertmanager("resolved", ("db-1", "resolved", "critical"))
        await post_alerts(client, quiet, "am_3")
        await process(client)

        assert len(await tickets(client)) == 2
        notes = await comments(client, db.reference)
        assert [note["internal"] for note in notes] == [True, True]
        assert "2 notifications" in notes[0]["body"]
        assert "resolved" in notes[1]["body"]
        # Monitoring going quiet is noted, but only the desk resolves the ticket.
        assert (await client.get(f"/v1/tickets/{db.reference}", headers=AGENT)).json()[
            "status"
        ] == "new"
        async with app_sessions(client).reading() as session:
            alert = (
                await session.exec(select(AlertTicket).where(AlertTicket.ticket_id == db.id))
            ).one()
        assert (alert.notifications, alert.last_status) == (2, "resolved")

    async def test_after_the_ticket_is_resolved_a_new_firing_opens_another(
        self, client: httpx.AsyncClient
    ) -> None:
        simple = {"fingerprint": "backup", "title": "Backup failed", "severity": "error"}
        await post_alerts(client, simple, "s_1")
        await process(client)
        [first] = await tickets(client)
        assert (first.impact, first.urgency, first.requester_id) == ("medium", "high", "monitor")
        await client.post(
            f"/v1/tickets/{first.reference}/resolve", json={"resolution": "Ran it."}, headers=AGENT
        )
        await post_alerts(client, simple, "s_2")
        await process(client)
        first_again, second = await tickets(client)
        assert (first_again.status, second.title) == ("resolved", "Backup failed")
        assert await comments(client, first.reference) == []

    async def test_a_resolved_alert_without_a_ticket_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        await post_alerts(client, {"fingerprint": "x", "title": "X", "status": "resolved"}, "r")
        await process(client)
        assert await tickets(client) == []
        [row] = await inbound_rows(client)
        assert row.outcome == [{"action": "ignored", "reason": "x resolved, no open ticket"}]


class TestProcessing:
    async def test_a_failing_message_keeps_its_error_and_waits(
        self, client: httpx.AsyncClient
    ) -> None:
        # A row as no request would store it (its body was never checked): it must
        # not be dropped, nor block the messages behind it.
        async with app_sessions(client).write_transaction() as session:
            session.add(
                InboundMessage(
                    kind="email",
                    integration="mailer",
                    webhook_id="broken",
                    content_type=RFC822,
                    body=b"Subject: no sender\r\n\r\nhello",
                )
            )
        await post_mail(client, mail(), "wh_fine")
        assert await process(client) == 2
        assert len(await tickets(client)) == 1
        broken = next(row for row in await inbound_rows(client) if row.webhook_id == "broken")
        assert (broken.status, broken.attempts) == ("pending", 1)
        assert "no From address" in (broken.last_error or "")
        assert broken.next_attempt_at > utc_now()
        assert await process(client) == 0  # backing off: not due yet

    async def test_a_claim_takes_the_oldest_pending_message_from_an_index_of_them(
        self, client: httpx.AsyncClient
    ) -> None:
        # Up to fifty claims a round: sorting every due message for each made a
        # backlog cost fifty times its length.
        plan = await plan_of_query(
            app_sessions(client),
            lambda session: TicketRepository(session).claim_inbound(utc_now()),
            "status = 'pending'",
        )

        assert "ix_inbound_messages_pending" in plan, plan
        assert "Sort" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan

    async def test_a_stored_message_is_processed_at_once_by_default(
        self, settings: TicketsSettings
    ) -> None:
        async with serving(create_app(settings)) as client:
            response = await post_mail(client, mail(), "wh_now")
            assert response.status_code == 202
            [ticket] = await tickets(client)
            assert ticket.channel == "email"

    async def test_bodies_over_the_limit_are_413(self, settings: TicketsSettings) -> None:
        small = settings.model_copy(update={"max_large_body_bytes": 1024})
        async with serving(create_app(small)) as client:
            response = await post_mail(client, mail(text="x" * 2000), "wh_big")
            assert response.status_code == 413
            assert response.headers["content-type"] == PROBLEM
            assert await inbound_rows(client) == []


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Fine now.\n\nOn Tue, 1 Dec 2026, Desk wrote:\n> old", "Fine now."),
        ("Top\n> quoted\nBottom", "Top\nBottom"),
        ("Hi\n-----Original Message-----\nFrom: desk", "Hi"),
        ("Nothing quoted.", "Nothing quoted."),
    ],
)
def test_quoted_text_is_stripped(text: str, kept: str) -> None:
    assert strip_quoted(text) == kept

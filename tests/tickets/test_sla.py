"""SLA policies and the two clocks of every ticket."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from deskside_contracts.tickets import SlaPolicyCreate
from deskside_kit.database import utc_now
from deskside_tickets.config import TicketsSettings
from deskside_tickets.models import Ticket
from deskside_tickets.policies import _new_policy_row
from deskside_tickets.repository import TicketRepository
from deskside_tickets.service import TicketService
from tests.support.apps import app_sessions
from tests.tickets.conftest import ADMIN, AGENT, ALICE, PROBLEM, open_ticket, outbox_events

TARGETS = {
    "p1": {"first_response_minutes": 15, "resolution_minutes": 60},
    "p2": {"first_response_minutes": 30, "resolution_minutes": 120},
    "p3": {"first_response_minutes": 60, "resolution_minutes": 240},
    "p4": {"first_response_minutes": 120, "resolution_minutes": 480},
}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def around_the_clock(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    """Make a 24x7 policy the default, so minutes on the clock are minutes of wall time."""
    response = await client.post(
        "/v1/sla-policies",
        json={
            "name": "24x7",
            "is_default": True,
            "targets": TARGETS,
            "business_hours": {"always_open": True},
            **extra,
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    policy: dict[str, Any] = response.json()
    return policy


async def backdate(
    client: httpx.AsyncClient, ticket: dict[str, Any], minutes: float, field: str = "created_at"
) -> None:
    """Pretend `field` happened `minutes` earlier, and the ticket is due for the scanner now."""
    async with app_sessions(client).write_transaction() as session:
        row = await session.get(Ticket, ticket["id"])
        assert row is not None
        setattr(row, field, getattr(row, field) - timedelta(minutes=minutes))
        row.sla_next_check_at = utc_now() - timedelta(seconds=1)
        session.add(row)


async def scan(client: httpx.AsyncClient, settings: TicketsSettings) -> int:
    async with app_sessions(client).write_transaction() as session:
        service = TicketService(TicketRepository(session), settings, None)
        return await service.check_slas(utc_now())


class TestPolicies:
    async def test_there_is_a_default_policy_from_the_start(
        self, client: httpx.AsyncClient
    ) -> None:
        policies = (await client.get("/v1/sla-policies", headers=AGENT)).json()
        assert [(p["name"], p["is_default"]) for p in policies] == [("Standard", True)]
        ticket = await open_ticket(client, ALICE)
        assert ticket["sla"]["policy_id"] == policies[0]["id"]

    async def test_a_new_default_takes_over(self, client: httpx.AsyncClient) -> None:
        policy = await around_the_clock(client)
        policies = (await client.get("/v1/sla-policies", headers=AGENT)).json()
        defaults = [p["id"] for p in policies if p["is_default"]]
        assert defaults == [policy["id"]]

    async def test_only_admins_manage_policies(self, client: httpx.AsyncClient) -> None:
        body = {"name": "x", "targets": TARGETS}
        assert (await client.post("/v1/sla-policies", json=body, headers=AGENT)).status_code == 403
        assert (await client.get("/v1/sla-policies", headers=ALICE)).status_code == 403

    @pytest.mark.parametrize(
        ("change", "names"),
        [
            ({"targets": {"p1": TARGETS["p1"]}}, "p2, p3, p4"),
            ({"business_hours": {"timezone": "Mars/Olympus"}}, "timezone"),
            ({"business_hours": {"day_start": "18:00", "day_end": "09:00"}}, "day_end"),
            ({"business_hours": {"day_start": "25:00"}}, "day_start"),
        ],
    )
    async def test_a_bad_policy_says_what_is_wrong(
        self, client: httpx.AsyncClient, change: dict[str, Any], names: str
    ) -> None:
        body = {"name": "Bad", "targets": TARGETS, **change}
        response = await client.post("/v1/sla-policies", json=body, headers=ADMIN)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert names in response.text

    async def test_names_are_unique_and_the_default_stays(self, client: httpx.AsyncClient) -> None:
        standard = (await client.get("/v1/sla-policies", headers=ADMIN)).json()[0]
        twin = await client.post(
            "/v1/sla-policies", json={"name": "Standard", "targets": TARGETS}, headers=ADMIN
        )
        assert twin.status_code == 409
        deleting = await client.delete(f"/v1/sla-policies/{standard['id']}", headers=ADMIN)
        assert deleting.status_code == 409

    async def test_renaming_to_a_taken_name_is_a_conflict(self, client: httpx.AsyncClient) -> None:
        other = await around_the_clock(client)
        renamed = await client.patch(
            f"/v1/sla-policies/{other['id']}",
            json={"name": "Standard", "is_default": True},
            headers={**ADMIN, "If-Match": f'"{other["version"]}"'},
        )
        assert renamed.status_code == 409
        assert renamed.headers["content-type"] == PROBLEM
        assert "already a policy named 'Standard'" in renamed.json()["detail"]
        # Nothing of the refused change was kept.
        kept = (await client.get(f"/v1/sla-policies/{other['id']}", headers=ADMIN)).json()
        assert kept == other

    async def test_policy_updates_honour_if_match(self, client: httpx.AsyncClient) -> None:
        policy = await around_the_clock(client)
        path = f"/v1/sla-policies/{policy['id']}"
        renamed = await client.patch(
            path, json={"name": "Always on"}, headers={**ADMIN, "If-Match": '"1"'}
        )
        stale = await client.patch(
            path, json={"name": "Late"}, headers={**ADMIN, "If-Match": '"1"'}
        )
        assert (renamed.status_code, stale.status_code) == (200, 412)

    async def test_a_policy_change_shows_at_once(self, client: httpx.AsyncClient) -> None:
        policy = await around_the_clock(client)
        before = await open_ticket(client, ALICE, impact="high", urgency="critical")  # p1
        faster = {**TARGETS, "p1": {"first_response_minutes": 5, "resolution_minutes": 30}}
        response = await client.patch(
            f"/v1/sla-policies/{policy['id']}",
            json={"targets": faster},
            headers={**ADMIN, "If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text

        after = await open_ticket(client, ALICE, impact="high", urgency="critical")

        for ticket, minutes in ((before, 15), (after, 5)):
            due = _time(ticket["sla"]["first_response_due_at"])
            assert due == _time(ticket["created_at"]) + timedelta(minutes=minutes)

    async def test_a_policy_made_through_another_replica_is_read_when_needed(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        assert (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()["sla"]
        # Written straight to the database, as another replica would: this
        # replica's snapshot of the policies does not have it.
        async with app_sessions(client).write_transaction() as session:
            elsewhere = _new_policy_row(
                SlaPolicyCreate.model_validate({"name": "Elsewhere", "targets": TARGETS})
            )
            session.add(elsewhere)
            row = await session.get(Ticket, ticket["id"])
            assert row is not None
            row.sla_policy_id = elsewhere.id
            session.add(row)

        read = (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()

        assert read["sla"] is not None
        assert read["sla"]["policy_id"] == elsewhere.id


class TestClocks:
    async def test_due_dates_follow_the_targets(self, client: httpx.AsyncClient) -> None:
        await around_the_clock(client)
        ticket = await open_ticket(client, ALICE, impact="high", urgency="critical")  # p1
        created = _time(ticket["created_at"])
        clocks = ticket["sla"]
        assert _time(clocks["first_response_due_at"]) == created + timedelta(minutes=15)
        assert _time(clocks["resolution_due_at"]) == created + timedelta(minutes=60)
        assert clocks["first_response_remaining_minutes"] in (14, 15)
        assert not clocks["first_response_breached"]

    async def test_business_hours_count_only_working_time(self, client: httpx.AsyncClient) -> None:
        from deskside_tickets.calendar import BusinessCalendar

        ticket = await open_ticket(client, ALICE)  # p3 under Standard: 4 h first response
        created = _time(ticket["created_at"])
        standard = BusinessCalendar()  # Monday to Friday, 9 to 17 UTC
        expected = standard.add_business_seconds(created, 4 * 3600)
        assert _time(ticket["sla"]["first_response_due_at"]) == expected

    async def test_the_first_public_reply_stops_the_first_response_clock(
        self, client: httpx.AsyncClient
    ) -> None:
        await around_the_clock(client)
        ticket = await open_ticket(client, ALICE)
        await client.post(
            f"/v1/tickets/{ticket['id']}/comments", json={"body": "On it"}, headers=AGENT
        )
        after = (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()
        assert after["sla"]["first_response_due_at"] is None
        assert after["sla"]["first_response_remaining_minutes"] is None
        assert not after["sla"]["first_response_breached"]
        assert after["sla"]["resolution_due_at"] is not None

    async def test_waiting_on_the_requester_pauses_the_clocks(
        self, client: httpx.AsyncClient
    ) -> None:
        await around_the_clock(client)
        ticket = await open_ticket(client, ALICE)
        path = f"/v1/tickets/{ticket['id']}"
        waiting = (
            await client.post(f"{path}/wait", json={"on": "requester"}, headers=AGENT)
        ).json()
        assert waiting["sla"]["paused"] is True
        assert waiting["sla"]["resolution_due_at"] is None
        # Thirty minutes pass while the desk waits for the requester...
        await backdate(client, ticket, 30, field="sla_paused_since")
        resumed = (await client.post(f"{path}/start", headers=AGENT)).json()

        assert resumed["sla"]["paused"] is False
        assert resumed["sla"]["paused_minutes"] == 30
        original_due = _time(ticket["sla"]["resolution_due_at"])
        shifted = _time(resumed["sla"]["resolution_due_at"]) - original_due
        assert timedelta(minutes=29) < shifted <= timedelta(minutes=31)

    async def test_a_policy_can_keep_the_clock_running_while_waiting(
        self, client: httpx.AsyncClient
    ) -> None:
        await around_the_clock(client, pause_on=["vendor"])
        ticket = await open_ticket(client, ALICE)
        path = f"/v1/tickets/{ticket['id']}"
        on_requester = await client.post(f"{path}/wait", json={"on": "requester"}, headers=AGENT)
        assert on_requester.json()["sla"]["paused"] is False
        on_vendor = await client.post(f"{path}/wait", json={"on": "vendor"}, headers=AGENT)
        assert on_vendor.json()["sla"]["paused"] is True

    async def test_work_stopped_tickets_count_minutes_lost(self, client: httpx.AsyncClient) -> None:
        await around_the_clock(client)
        stopped = await open_ticket(client, ALICE, work_stopped=True)
        working = await open_ticket(client, ALICE)
        await backdate(client, stopped, 90)
        after = (await client.get(f"/v1/tickets/{stopped['id']}", headers=AGENT)).json()
        assert after["minutes_lost"] in (90, 91)
        assert working["minutes_lost"] is None


class TestWarningsAndBreaches:
    async def test_each_threshold_is_announced_exactly_once(
        self, client: httpx.AsyncClient, settings: TicketsSettings
    ) -> None:
        await around_the_clock(client)
        ticket = await open_ticket(client, ALICE)  # p3: 60 min first response, 240 resolution

        await backdate(client, ticket, 50)  # 83% of first response
        assert await scan(client, settings) == 1
        assert await scan(client, settings) == 0
        await backdate(client, ticket, 20)  # 70 min: first response breached, resolution 29%
        assert await scan(client, settings) == 1
        assert await scan(client, settings) == 0

        events = [(e.type, e.data.get("clock")) for e in await outbox_events(client)]
        assert events[1:] == [
            ("ticket.sla_warning", "first_response"),
            ("ticket.sla_breached", "first_response"),
        ]
        after = (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()
        assert after["sla"]["first_response_breached"] is True
        assert after["sla"]["first_response_remaining_minutes"] < 0
        breached = (await client.get("/v1/tickets?breached=true", headers=AGENT)).json()
        assert [t["id"] for t in breached["items"]] == [ticket["id"]]

    async def test_a_jump_past_both_thresholds_is_a_breach_only(
        self, client: httpx.AsyncClient, settings: TicketsSettings
    ) -> None:
        await around_the_clock(client)
        ticket = await open_ticket(client, ALICE)
        await backdate(client, ticket, 300)  # past both targets at once
        assert await scan(client, settings) == 2
        types = sorted((e.type, e.data["clock"]) for e in (await outbox_events(client))[1:])
        assert types == [
            ("ticket.sla_breached", "first_response"),
            ("ticket.sla_breached", "resolution"),
        ]

    async def test_replicas_scanning_together_announce_once(
        self, client: httpx.AsyncClient, settings: TicketsSettings, backend: str
    ) -> None:
        await around_the_clock(client)
        tickets = [await open_ticket(client, ALICE) for _ in range(5)]
        for ticket in tickets:
            await backdate(client, ticket, 300)

        counts = await asyncio.gather(*(scan(client, settings) for _ in range(3)))

        assert sum(counts) == 10
        events = [e for e in await outbox_events(client) if e.type == "ticket.sla_breached"]
        assert len(events) == 10
        assert len({(e.subject, e.data["clock"]) for e in events}) == 10
        assert backend in ("sqlite", "postgresql")

    async def test_the_due_sort_puts_the_most_urgent_first(self, client: httpx.AsyncClient) -> None:
        await around_the_clock(client)
        low = await open_ticket(client, ALICE, impact="low", urgency="low")
        high = await open_ticket(client, ALICE, impact="critical", urgency="critical")
        medium = await open_ticket(client, ALICE)
        waiting = await open_ticket(client, ALICE)
        await client.post(
            f"/v1/tickets/{waiting['id']}/wait", json={"on": "requester"}, headers=AGENT
        )
        ordered = (await client.get("/v1/tickets?sort=due&limit=2", headers=AGENT)).json()
        rest = (
            await client.get(
                f"/v1/tickets?sort=due&limit=2&cursor={ordered['next_cursor']}", headers=AGENT
            )
        ).json()
        ids = [t["id"] for t in ordered["items"] + rest["items"]]
        assert ids == [high["id"], medium["id"], low["id"], waiting["id"]]

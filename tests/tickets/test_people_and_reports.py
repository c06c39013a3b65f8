"""Agents, groups, routing and the reports."""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from deskside_kit.database import utc_now
from deskside_tickets.models import Escalation, Group, Ticket
from deskside_tickets.repository import TicketRepository
from tests.support.apps import app_sessions
from tests.support.plans import statements_sent
from tests.tickets.conftest import ADMIN, AGENT, ALICE, BOB, PROBLEM, act, open_ticket


async def group(client: httpx.AsyncClient, name: str, tier: int, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/groups", json={"name": name, "tier": tier, **extra}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def agent(
    client: httpx.AsyncClient, agent_id: str, groups: list[str], skills: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.put(
        f"/v1/agents/{agent_id}",
        json={"name": agent_id.title(), "groups": groups, "skills": skills, **extra},
        headers=ADMIN,
    )
    assert response.status_code in (200, 201), response.text
    record: dict[str, Any] = response.json()
    return record


class TestAgentsAndGroups:
    async def test_an_agent_record_is_created_then_replaced(
        self, client: httpx.AsyncClient
    ) -> None:
        desk = await group(client, "Service desk", 1)
        created = await client.put(
            "/v1/agents/agnes",
            json={"name": "Agnes", "tier": 1, "groups": [desk["id"]], "skills": ["iphone"]},
            headers=ADMIN,
        )
        assert created.status_code == 201
        replaced = await client.put(
            "/v1/agents/agnes",
            json={"name": "Agnes A.", "tier": 2, "skills": ["iphone", "dropbox"]},
            headers={**ADMIN, "If-Match": '"1"'},
        )
        assert replaced.status_code == 200
        record = replaced.json()
        assert (record["name"], record["tier"], record["groups"]) == ("Agnes A.", 2, [])
        assert record["skills"] == ["dropbox", "iphone"]
        stale = await client.put(
            "/v1/agents/agnes", json={"name": "x"}, headers={**ADMIN, "If-Match": '"1"'}
        )
        assert stale.status_code == 412

    async def test_a_groups_shared_mailbox_is_set_changed_and_removed(
        self, client: httpx.AsyncClient
    ) -> None:
        desk = await group(client, "Service desk", 1, email="desk@example.com")
        assert desk["email"] == "desk@example.com"
        path = f"/v1/groups/{desk['id']}"
        renamed = await client.patch(
            path, json={"name": "The desk"}, headers={**ADMIN, "If-Match": '"1"'}
        )
        assert renamed.json()["email"] == "desk@example.com"  # absent: left as it was
        removed = await client.patch(
            path, json={"email": None}, headers={**ADMIN, "If-Match": '"2"'}
        )
        assert removed.status_code == 200, removed.text
        assert (await client.get(path, headers=AGENT)).json()["email"] is None
        bad = await client.post(
            "/v1/groups", json={"name": "Nets", "email": "not an address"}, headers=ADMIN
        )
        assert bad.status_code == 422

    async def test_unknown_groups_are_named(self, client: httpx.AsyncClient) -> None:
        response = await client.put(
            "/v1/agents/agnes", json={"name": "Agnes", "groups": ["grp_nope"]}, headers=ADMIN
        )
        assert response.status_code == 422
        assert "grp_nope" in response.json()["detail"]

    async def test_only_admins_manage_people_and_requesters_see_none(
        self, client: httpx.AsyncClient
    ) -> None:
        assert (
            await client.post("/v1/groups", json={"name": "x"}, headers=AGENT)
        ).status_code == 403
        assert (
            await client.put("/v1/agents/x", json={"name": "x"}, headers=AGENT)
        ).status_code == 403
        assert (await client.get("/v1/agents", headers=ALICE)).status_code == 403
        assert (await client.get("/v1/groups", headers=ALICE)).status_code == 403

    async def test_a_group_in_use_stays(self, client: httpx.AsyncClient) -> None:
        desk = await group(client, "Service desk", 1)
        await agent(client, "agnes", [desk["id"]], [])
        assert (await client.delete(f"/v1/groups/{desk['id']}", headers=ADMIN)).status_code == 409
        empty = await group(client, "Night shift", 1)
        assert (await client.delete(f"/v1/groups/{empty['id']}", headers=ADMIN)).status_code == 204
        duplicate = await client.post("/v1/groups", json={"name": "Service desk"}, headers=ADMIN)
        assert duplicate.status_code == 409
        evenings = await group(client, "Evenings", 1)
        renamed = await client.patch(
            f"/v1/groups/{evenings['id']}",
            json={"name": "Service desk"},
            headers={**ADMIN, "If-Match": f'"{evenings["version"]}"'},
        )
        assert renamed.status_code == 409
        assert "already a group named 'Service desk'" in renamed.json()["detail"]


class TestRouting:
    async def test_new_tickets_go_to_their_tiers_group(self, client: httpx.AsyncClient) -> None:
        desk = await group(client, "Service desk", 1)
        experts = await group(client, "Apple experts", 2)
        ticket = await open_ticket(client, ALICE)
        assert ticket["group_id"] == desk["id"]
        assert ticket["assignee_id"] is None

        await client.post(
            f"/v1/tickets/{ticket['id']}/escalations",
            json={"to_tier": 2, "reason": "beyond tier 1", "fault_domain": "device"},
            headers=AGENT,
        )
        escalated = (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()
        assert (escalated["tier"], escalated["group_id"]) == (2, experts["id"])

    async def test_suggestions_rank_trained_agents_then_the_least_busy(
        self, client: httpx.AsyncClient
    ) -> None:
        desk = await group(client, "Service desk", 1)
        await agent(client, "busy", [desk["id"]], ["dropbox"])
        await agent(client, "idle", [desk["id"]], [])
        await agent(client, "trained", [desk["id"]], ["dropbox"])
        await agent(client, "away", [desk["id"]], ["dropbox"], active=False)
        for _ in range(2):
            other = await open_ticket(client, BOB)
            await client.post(
                f"/v1/tickets/{other['id']}/assign", json={"assignee_id": "busy"}, headers=AGENT
            )
        ticket = await open_ticket(client, ALICE, technology="dropbox")

        suggestions = (
            await client.get(f"/v1/tickets/{ticket['id']}/suggested-assignees", headers=AGENT)
        ).json()

        ranked = [(s["agent"]["id"], s["trained"], s["open_tickets"]) for s in suggestions]
        assert ranked == [("trained", True, 0), ("busy", True, 2), ("idle", False, 0)]
        forbidden = await client.get(
            f"/v1/tickets/{ticket['id']}/suggested-assignees", headers=ALICE
        )
        assert forbidden.status_code == 403

    async def test_auto_assign_gives_the_ticket_to_the_top_suggestion(
        self, client: httpx.AsyncClient
    ) -> None:
        desk = await group(client, "Service desk", 1, auto_assign=True)
        await agent(client, "generalist", [desk["id"]], [])
        await agent(client, "specialist", [desk["id"]], ["ipad"])
        ticket = await open_ticket(client, ALICE, technology="ipad")
        assert ticket["assignee_id"] == "specialist"

    async def test_a_routed_and_assigned_create_is_written_in_one_statement(
        self, client: httpx.AsyncClient, backend: str
    ) -> None:
        desk = await group(client, "Service desk", 1, auto_assign=True)
        await agent(client, "generalist", [desk["id"]], [])
        with statements_sent(app_sessions(client).engine) as sent:
            ticket = await open_ticket(client, ALICE)

        assert (ticket["group_id"], ticket["assignee_id"]) == (desk["id"], "generalist")
        history = (await client.get(f"/v1/tickets/{ticket['id']}/history", headers=AGENT)).json()
        assert [item["action"] for item in history["items"]] == ["created", "routed", "assigned"]
        # Routing and assigning read groups and agents: none of those reads may flush the
        # ticket ahead of its history and event (which go with the audit record).
        writing_the_ticket = [sql for sql, _ in sent if "INSERT INTO tickets" in sql]
        if backend == "postgresql":
            (statement,) = writing_the_ticket
            assert "INSERT INTO ticket_changes" in statement
            assert "INSERT INTO outbox" in statement

    async def test_routing_follows_a_group_change_at_once(self, client: httpx.AsyncClient) -> None:
        # The first create leaves this replica a snapshot of the routes (no group yet);
        # each group change after it must show on the very next create, not seconds later.
        assert (await open_ticket(client, ALICE))["group_id"] is None
        desk = await group(client, "Service desk", 1)
        assert (await open_ticket(client, ALICE))["group_id"] == desk["id"]
        moved = await client.patch(
            f"/v1/groups/{desk['id']}", json={"tier": 2}, headers={**ADMIN, "If-Match": '"1"'}
        )
        assert moved.status_code == 200, moved.text
        assert (await open_ticket(client, ALICE))["group_id"] is None
        first_by_name = await group(client, "Apple desk", 1)
        await group(client, "Windows desk", 1)
        assert (await open_ticket(client, ALICE))["group_id"] == first_by_name["id"]

    async def test_a_group_deleted_or_moved_through_another_replica_is_not_routed_to(
        self, client: httpx.AsyncClient
    ) -> None:
        apple = await group(client, "Apple desk", 1)
        windows = await group(client, "Windows desk", 1)
        assert (await open_ticket(client, ALICE))["group_id"] == apple["id"]
        # Another replica deletes it: this one's snapshot of the routes still names it.
        async with app_sessions(client).write_transaction() as session:
            row = await session.get(Group, apple["id"])
            assert row is not None
            await session.delete(row)

        assert (await open_ticket(client, ALICE))["group_id"] == windows["id"]
        # And moves the other to tier 2: no tier-1 group is left to route to.
        async with app_sessions(client).write_transaction() as session:
            row = await session.get(Group, windows["id"])
            assert row is not None
            row.tier = 2
            session.add(row)

        assert (await open_ticket(client, ALICE))["group_id"] is None


class TestReports:
    async def test_skills_gaps_list_technologies_nobody_is_trained_on(
        self, client: httpx.AsyncClient
    ) -> None:
        desk = await group(client, "Service desk", 1)
        await agent(client, "agnes", [desk["id"]], ["ipad"])
        await agent(client, "gone", [desk["id"]], ["signal"], active=False)
        for technology in ("ipad", "signal", "signal", "dropbox"):
            await open_ticket(client, ALICE, technology=technology)

        gaps = (await client.get("/v1/reports/tickets/skills", headers=AGENT)).json()

        assert gaps == [
            {"technology": "dropbox", "tickets": 1, "open_tickets": 1},
            {"technology": "signal", "tickets": 2, "open_tickets": 2},
        ]

    async def test_productivity_counts_hours_lost_by_technology(
        self, client: httpx.AsyncClient
    ) -> None:
        # 24x7, so hours lost are wall-clock hours.
        await client.post(
            "/v1/sla-policies",
            json={
                "name": "24x7",
                "is_default": True,
                "business_hours": {"always_open": True},
                "targets": {
                    p: {"first_response_minutes": 60, "resolution_minutes": 600}
                    for p in ("p1", "p2", "p3", "p4")
                },
            },
            headers=ADMIN,
        )
        stopped = [
            await open_ticket(client, ALICE, technology="outlook", work_stopped=True)
            for _ in range(2)
        ]
        await open_ticket(client, ALICE, technology="dropbox", work_stopped=True)
        await open_ticket(client, ALICE, technology="outlook")  # working: no time lost
        async with app_sessions(client).write_transaction() as session:
            for ticket, hours in zip(stopped, (3, 1), strict=True):
                row = await session.get(Ticket, ticket["id"])
                assert row is not None
                row.created_at -= timedelta(hours=hours)
                session.add(row)

        report = (await client.get("/v1/reports/tickets/productivity", headers=AGENT)).json()

        assert report["tickets"] == 3
        top = report["by_technology"][0]
        assert (top["key"], top["tickets"]) == ("outlook", 2)
        assert 3.9 <= top["hours_lost"] <= 4.1
        assert {"from", "to"} <= report.keys()

    async def test_a_settled_ticket_stops_losing_time_and_reopening_restarts_it(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.post("/v1/sla-policies", json=ALWAYS_OPEN_POLICY, headers=ADMIN)
        settled = await open_ticket(client, ALICE, technology="outlook", work_stopped=True)
        still_open = await open_ticket(client, BOB, technology="dropbox", work_stopped=True)
        await backdate(client, settled["id"], hours=5)
        await backdate(client, still_open["id"], hours=2)
        resolved = await act(client, settled, "resolve", AGENT, {"resolution": "New profile"})
        assert 299 <= resolved.json()["minutes_lost"] <= 301
        # Ten more hours go by for a ticket that no longer stops anyone working.
        await backdate(client, settled["id"], hours=10)

        report = (await client.get("/v1/reports/tickets/productivity", headers=AGENT)).json()

        assert report["tickets"] == 2
        assert 6.9 <= report["hours_lost"] <= 7.1
        hours = {row["key"]: row["hours_lost"] for row in report["by_technology"]}
        assert 4.9 <= hours["outlook"] <= 5.1
        assert 1.9 <= hours["dropbox"] <= 2.1

        reopened = await act(client, resolved.json(), "reopen", ALICE, {"reason": "Still broken"})
        assert reopened.status_code == 200, reopened.text
        # Open again: the clock runs from its (backdated) opening, 15 hours ago.
        assert 899 <= reopened.json()["minutes_lost"] <= 901
        report = (await client.get("/v1/reports/tickets/productivity", headers=AGENT)).json()
        assert 16.9 <= report["hours_lost"] <= 17.1

    async def test_summary_medians_and_compliance(self, client: httpx.AsyncClient) -> None:
        tickets = [await open_ticket(client, ALICE) for _ in range(3)]
        for ticket, hours in zip(tickets, (1, 3, 6), strict=True):
            await backdate(client, ticket["id"], hours=hours)
        for ticket in tickets[:2]:  # resolved after 60 and 180 minutes; the third stays open
            response = await act(client, ticket, "resolve", AGENT, {"resolution": "Fixed"})
            assert response.status_code == 200, response.text
        async with app_sessions(client).write_transaction() as session:
            row = await session.get(Ticket, tickets[2]["id"])
            assert row is not None
            row.sla_resolution_breached = True
            session.add(row)

        summary = (await client.get("/v1/reports/tickets/summary", headers=AGENT)).json()

        assert summary["tickets"] == 3
        assert summary["by_status"] == {"resolved": 2, "new": 1}
        assert 119.5 <= summary["median_resolution_minutes"] <= 120.5  # between 60 and 180
        assert summary["sla_compliance_percent"] == 66.7

    @pytest.mark.parametrize("answered", [3, 4], ids=["odd count", "even count"])
    async def test_summary_medians_are_exact_for_odd_and_even_counts(
        self, client: httpx.AsyncClient, answered: int
    ) -> None:
        # Durations set out of order, so a median read without ordering would show it.
        first_response = [95.5, 12.25, 30.0, 400.0][:answered]
        resolution = [600.0, 61.5, 1440.0, 7.75][:answered]
        tickets = [await open_ticket(client, ALICE) for _ in range(answered + 1)]
        async with app_sessions(client).write_transaction() as session:
            for ticket, responded, resolved in zip(
                tickets, first_response, resolution, strict=False
            ):
                row = await session.get(Ticket, ticket["id"])
                assert row is not None
                row.first_response_at = row.created_at + timedelta(minutes=responded)
                row.resolved_at = row.created_at + timedelta(minutes=resolved)
                session.add(row)
        # The last ticket has neither moment: it counts as a ticket, never as a duration.

        summary = (await client.get("/v1/reports/tickets/summary", headers=AGENT)).json()

        assert summary["tickets"] == answered + 1
        expected = {3: (30.0, 600.0), 4: ((30.0 + 95.5) / 2, (61.5 + 600.0) / 2)}[answered]
        assert summary["median_first_response_minutes"] == pytest.approx(expected[0], abs=0.1)
        assert summary["median_resolution_minutes"] == pytest.approx(expected[1], abs=0.1)

    async def test_summary_medians_of_a_range_without_answers_are_empty(
        self, client: httpx.AsyncClient
    ) -> None:
        await open_ticket(client, ALICE)

        summary = (await client.get("/v1/reports/tickets/summary", headers=AGENT)).json()

        assert summary["tickets"] == 1
        assert summary["median_first_response_minutes"] is None
        assert summary["median_resolution_minutes"] is None

    async def test_summary_counts_times_and_vendor_backlog(self, client: httpx.AsyncClient) -> None:
        first = await open_ticket(client, ALICE, technology="iphone")
        await open_ticket(client, BOB, technology="iphone", impact="critical", urgency="critical")
        await client.post(
            f"/v1/tickets/{first['id']}/escalations",
            json={"vendor": "Apple", "request": "replacement"},
            headers=AGENT,
        )
        async with app_sessions(client).write_transaction() as session:
            escalation = (await session.exec(select(Escalation))).one()
            escalation.created_at -= timedelta(hours=30)
            session.add(escalation)

        summary = (await client.get("/v1/reports/tickets/summary", headers=AGENT)).json()

        assert summary["tickets"] == 2
        assert summary["by_status"] == {"waiting_on_vendor": 1, "new": 1}
        assert summary["by_priority"] == {"p3": 1, "p1": 1}
        assert summary["by_technology"] == {"iphone": 2}
        assert summary["sla_compliance_percent"] == 100.0
        backlog = summary["open_vendor_escalations"]
        assert [(b["vendor"], b["open_escalations"]) for b in backlog] == [("Apple", 1)]
        assert 29.9 <= backlog[0]["oldest_age_hours"] <= 30.1

    async def test_a_report_refuses_a_session_that_has_already_sent_a_statement(
        self, client: httpx.AsyncClient
    ) -> None:
        # Its snapshot and plans are set by its transaction's first statement, so they
        # would silently not hold for a report begun after another query.
        async with app_sessions(client).reading() as session:
            await session.exec(select(Ticket.id).limit(1))
            with pytest.raises(RuntimeError, match="before the session's first statement"):
                await TicketRepository(session).begin_report()

        async with app_sessions(client).reading() as session:
            repository = TicketRepository(session)
            await repository.begin_report()
            assert await repository.summary_counts(utc_now() - timedelta(days=1), utc_now()) == []

    async def test_a_backwards_range_is_a_clear_422(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v1/reports/tickets/summary?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z",
            headers=AGENT,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM


class TestReportsAsCsv:
    """`?format=csv`: the same numbers as the JSON, as a flat table for a spreadsheet."""

    async def test_productivity_has_a_row_per_technology_vendor_and_tier(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.post("/v1/sla-policies", json=ALWAYS_OPEN_POLICY, headers=ADMIN)
        stopped = await open_ticket(client, ALICE, technology="outlook", work_stopped=True)
        await open_ticket(client, BOB, technology="dropbox", work_stopped=True)
        await backdate(client, stopped["id"], hours=3)
        range_ = {"from": "2026-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}
        report = (
            await client.get("/v1/reports/tickets/productivity", params=range_, headers=AGENT)
        ).json()

        response = await client.get(
            "/v1/reports/tickets/productivity", params={**range_, "format": "csv"}, headers=AGENT
        )

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in response.headers["content-disposition"]
        header, rows = read_csv(response)
        assert header == ["from", "to", "dimension", "key", "name", "hours_lost", "tickets"]
        by_key = {(row["dimension"], row["key"]): row for row in rows}
        assert {dimension for dimension, _ in by_key} == {"technology", "vendor", "support_tier"}
        for dimension in ("technology", "vendor", "support_tier"):
            for group in report[f"by_{dimension}"]:
                row = by_key[(dimension, group["key"])]
                # Hours lost grow with the clock between the two requests: a small margin.
                assert abs(float(row["hours_lost"]) - group["hours_lost"]) <= 0.02
                assert (row["name"] or None, int(row["tickets"])) == (
                    group["name"],
                    group["tickets"],
                )
        assert {row["from"] for row in rows} == {"2026-01-01T00:00:00.000000Z"}
        assert {row["to"] for row in rows} == {"2099-01-01T00:00:00.000000Z"}
        outlook = by_key[("technology", "outlook")]
        assert 2.9 <= float(outlook["hours_lost"]) <= 3.1

    async def test_summary_is_a_long_table_of_measures(self, client: httpx.AsyncClient) -> None:
        first = await open_ticket(client, ALICE, technology="iphone")
        await open_ticket(client, BOB, technology="iphone", impact="critical", urgency="critical")
        await client.post(
            f"/v1/tickets/{first['id']}/escalations",
            # A cell a spreadsheet would run as a formula comes out as text.
            json={"vendor": '=HYPERLINK("http://evil.example")', "request": "replacement"},
            headers=AGENT,
        )
        summary = (await client.get("/v1/reports/tickets/summary", headers=AGENT)).json()

        response = await client.get(
            "/v1/reports/tickets/summary", params={"format": "csv"}, headers=AGENT
        )

        assert response.status_code == 200, response.text
        header, rows = read_csv(response)
        assert header == ["from", "to", "measure", "key", "value"]
        values = {(row["measure"], row["key"]): row["value"] for row in rows}
        assert values[("tickets", "")] == "2"
        assert values[("status", "waiting_on_vendor")] == "1"
        assert values[("priority", "p1")] == "1"
        assert values[("technology", "iphone")] == "2"
        assert values[("sla_compliance_percent", "")] == str(summary["sla_compliance_percent"])
        assert values[("median_resolution_minutes", "")] == ""  # nothing resolved yet
        vendor = '\'=HYPERLINK("http://evil.example")'
        assert values[("vendor_open_escalations", vendor)] == "1"
        assert ("vendor_oldest_escalation_hours", vendor) in values

    async def test_skills_as_csv(self, client: httpx.AsyncClient) -> None:
        await open_ticket(client, ALICE, technology="signal")

        response = await client.get(
            "/v1/reports/tickets/skills", params={"format": "csv"}, headers=AGENT
        )

        assert response.status_code == 200, response.text
        header, rows = read_csv(response)
        assert header == ["technology", "open_tickets", "tickets"]
        assert rows == [{"technology": "signal", "open_tickets": "1", "tickets": "1"}]

    @pytest.mark.parametrize("path", ["productivity", "summary", "skills"])
    async def test_json_stays_the_default_and_an_unknown_format_is_a_422(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        default = await client.get(f"/v1/reports/tickets/{path}", headers=AGENT)
        as_json = await client.get(
            f"/v1/reports/tickets/{path}", params={"format": "json"}, headers=AGENT
        )
        unknown = await client.get(
            f"/v1/reports/tickets/{path}", params={"format": "xlsx"}, headers=AGENT
        )

        assert default.headers["content-type"] == as_json.headers["content-type"]
        assert default.headers["content-type"] == "application/json"
        assert unknown.status_code == 422
        assert unknown.headers["content-type"] == PROBLEM
        assert [error["field"] for error in unknown.json()["errors"]] == ["query.format"]

    async def test_requesters_get_no_csv_either(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v1/reports/tickets/summary", params={"format": "csv"}, headers=ALICE
        )
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM


def read_csv(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV answer."""
    lines = response.text.splitlines()
    reader = csv.DictReader(lines)
    return list(reader.fieldnames or []), list(reader)


ALWAYS_OPEN_POLICY = {
    "name": "24x7",
    "is_default": True,
    "business_hours": {"always_open": True},
    "targets": {
        p: {"first_response_minutes": 60, "resolution_minutes": 600}
        for p in ("p1", "p2", "p3", "p4")
    },
}


async def backdate(client: httpx.AsyncClient, ticket_id: str, *, hours: float) -> None:
    """Move a ticket's opening `hours` earlier, as if that much time had passed."""
    async with app_sessions(client).write_transaction() as session:
        row = await session.get(Ticket, ticket_id)
        assert row is not None
        row.created_at -= timedelta(hours=hours)
        session.add(row)

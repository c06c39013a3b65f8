"""Interactions, watchers, links, merges, satisfaction and escalations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.tokens import bearer
from tests.tickets.conftest import AGENT, ALICE, BOB, PROBLEM, open_ticket, outbox_events

CAROL = bearer("carol", "requester", email="carol@example.com")


def path(ticket: dict[str, Any], tail: str = "") -> str:
    return f"/v1/tickets/{ticket['reference']}{tail}"


class TestInteractions:
    async def test_a_booked_remote_session_is_logged_then_rescheduled(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        booked = await client.post(
            path(ticket, "/interactions"),
            json={
                "kind": "remote_session",
                "scheduled_for": "2026-12-01T14:00:00Z",
                "remote_tool": "Quick Assist",
                "remote_link": "https://remote.example.com/s/123",
            },
            headers=AGENT,
        )
        assert booked.status_code == 201, booked.text
        session = booked.json()
        assert (session["agent_id"], session["remote_tool"]) == ("agnes", "Quick Assist")

        moved = await client.patch(
            path(ticket, f"/interactions/{session['id']}"),
            json={"scheduled_for": "2026-12-02T09:30:00Z"},
            headers={**AGENT, "If-Match": f'"{session["version"]}"'},
        )
        assert moved.status_code == 200
        assert moved.json()["scheduled_for"] == "2026-12-02T09:30:00.000000Z"
        stale = await client.patch(
            path(ticket, f"/interactions/{session['id']}"),
            json={"notes": "late"},
            headers={**AGENT, "If-Match": f'"{session["version"]}"'},
        )
        assert stale.status_code == 412

        listed = (await client.get(path(ticket, "/interactions"), headers=ALICE)).json()
        assert [item["id"] for item in listed["items"]] == [session["id"]]
        # Booking help is not yet help given: no first response.
        after = (await client.get(path(ticket), headers=AGENT)).json()
        assert after["first_response_at"] is None

    async def test_a_phone_call_is_a_first_response(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        call = await client.post(
            path(ticket, "/interactions"),
            json={"kind": "phone_call", "duration_minutes": 12, "notes": "Walked through reset"},
            headers=AGENT,
        )
        assert call.status_code == 201
        after = (await client.get(path(ticket), headers=AGENT)).json()
        assert after["first_response_at"] == call.json()["created_at"]
        assert "ticket.interaction_logged" in [e.type for e in await outbox_events(client)]

    async def test_remote_fields_only_for_remote_sessions(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.post(
            path(ticket, "/interactions"),
            json={"kind": "phone_call", "remote_tool": "TeamViewer"},
            headers=AGENT,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM

    async def test_requesters_do_not_log_help(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.post(
            path(ticket, "/interactions"), json={"kind": "advice"}, headers=ALICE
        )
        assert response.status_code == 403


class TestWatchers:
    async def test_a_watcher_sees_the_ticket_and_its_public_side_only(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        assert (await client.get(path(ticket), headers=CAROL)).status_code == 404

        added = await client.post(
            path(ticket, "/watchers"),
            json={"id": "carol", "email": "carol@example.com"},
            headers=ALICE,
        )
        assert added.status_code == 201
        await client.post(
            path(ticket, "/comments"), json={"body": "secret", "internal": True}, headers=AGENT
        )

        assert (await client.get(path(ticket), headers=CAROL)).status_code == 200
        listed = (await client.get("/v1/tickets", headers=CAROL)).json()["items"]
        assert [t["id"] for t in listed] == [ticket["id"]]
        comments = (await client.get(path(ticket, "/comments"), headers=CAROL)).json()
        assert comments["items"] == []
        watchers = (await client.get(path(ticket, "/watchers"), headers=AGENT)).json()
        assert [w["id"] for w in watchers] == ["carol"]

        again = await client.post(path(ticket, "/watchers"), json={"id": "carol"}, headers=ALICE)
        assert again.status_code == 409

    async def test_public_updates_name_the_watchers_for_notify(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await client.post(
            path(ticket, "/watchers"), json={"id": "carol", "email": "c@example.com"}, headers=ALICE
        )
        await client.post(path(ticket, "/comments"), json={"body": "Fixed?"}, headers=AGENT)

        commented = [e for e in await outbox_events(client) if e.type == "ticket.commented"]

        assert commented[0].data["watchers"] == [
            {"id": "carol", "email": "c@example.com", "name": None}
        ]

    async def test_watchers_follow_and_reply_but_do_not_change_the_ticket(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await client.post(path(ticket, "/watchers"), json={"id": "carol"}, headers=ALICE)
        reply = await client.post(path(ticket, "/comments"), json={"body": "Me too"}, headers=CAROL)
        edit = await client.patch(path(ticket), json={"title": "Mine now"}, headers=CAROL)
        await client.post(path(ticket, "/resolve"), json={"resolution": "x"}, headers=AGENT)
        reopen = await client.post(path(ticket, "/reopen"), json={"reason": "x"}, headers=CAROL)
        close = await client.post(path(ticket, "/close"), headers=CAROL)
        assert reply.status_code == 201
        assert (edit.status_code, reopen.status_code, close.status_code) == (403, 403, 403)

    async def test_watchers_stop_watching(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        await client.post(path(ticket, "/watchers"), json={"id": "carol"}, headers=ALICE)
        assert (
            await client.delete(path(ticket, "/watchers/carol"), headers=CAROL)
        ).status_code == 204
        assert (await client.get(path(ticket), headers=CAROL)).status_code == 404

    async def test_only_the_requester_or_agents_copy_people(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await client.post(path(ticket, "/watchers"), json={"id": "carol"}, headers=ALICE)
        response = await client.post(path(ticket, "/watchers"), json={"id": "eve"}, headers=CAROL)
        assert response.status_code == 403


class TestLinksAndMerges:
    async def test_links_go_both_ways(self, client: httpx.AsyncClient) -> None:
        first = await open_ticket(client, ALICE)
        second = await open_ticket(client, BOB)
        linked = await client.post(
            path(first, "/links"), json={"ticket": second["reference"]}, headers=AGENT
        )
        assert [t["reference"] for t in linked.json()] == [second["reference"]]
        back = (await client.get(path(second, "/links"), headers=AGENT)).json()
        assert [t["reference"] for t in back] == [first["reference"]]
        # Alice sees the link only to what she may see herself.
        assert (await client.get(path(first, "/links"), headers=ALICE)).json() == []

    async def test_merging_moves_the_conversation_and_closes_the_duplicate(
        self, client: httpx.AsyncClient
    ) -> None:
        survivor = await open_ticket(client, ALICE, title="VPN down on iPad")
        duplicate = await open_ticket(client, BOB, title="VPN broken")
        await client.post(path(duplicate, "/comments"), json={"body": "Me too"}, headers=BOB)

        merged = await client.post(
            path(duplicate, "/merge"), json={"into": survivor["reference"]}, headers=AGENT
        )

        assert merged.status_code == 200, merged.text
        assert merged.json()["id"] == survivor["id"]
        closed = (await client.get(path(duplicate), headers=AGENT)).json()
        assert closed["status"] == "closed"
        assert closed["merged_into_id"] == survivor["id"]
        comments = (await client.get(path(survivor, "/comments"), headers=AGENT)).json()
        assert [c["body"] for c in comments["items"]] == ["Me too"]
        # Bob follows his problem on the surviving ticket.
        assert (await client.get(path(survivor), headers=BOB)).status_code == 200

    async def test_merging_into_itself_or_a_closed_ticket_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        itself = await client.post(
            path(ticket, "/merge"), json={"into": ticket["id"]}, headers=AGENT
        )
        assert itself.status_code == 422
        other = await open_ticket(client, ALICE)
        await client.post(path(other, "/resolve"), json={"resolution": "x"}, headers=AGENT)
        await client.post(path(other, "/close"), headers=AGENT)
        closed = await client.post(
            path(ticket, "/merge"), json={"into": other["id"]}, headers=AGENT
        )
        assert closed.status_code == 409


class TestSatisfaction:
    async def test_the_requester_rates_once_after_resolution(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        early = await client.post(path(ticket, "/satisfaction"), json={"rating": 5}, headers=ALICE)
        assert early.status_code == 409
        await client.post(path(ticket, "/resolve"), json={"resolution": "x"}, headers=AGENT)

        by_agent = await client.post(
            path(ticket, "/satisfaction"), json={"rating": 5}, headers=AGENT
        )
        rated = await client.post(
            path(ticket, "/satisfaction"),
            json={"rating": 4, "comment": "Quick, thanks"},
            headers=ALICE,
        )
        again = await client.post(path(ticket, "/satisfaction"), json={"rating": 1}, headers=ALICE)

        assert by_agent.status_code == 403
        assert rated.status_code == 200
        assert rated.json()["satisfaction"]["rating"] == 4
        assert again.status_code == 409

    @pytest.mark.parametrize("rating", [0, 6, "five"])
    async def test_ratings_are_1_to_5(self, client: httpx.AsyncClient, rating: object) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.post(
            path(ticket, "/satisfaction"), json={"rating": rating}, headers=ALICE
        )
        assert response.status_code == 422


class TestEscalations:
    async def test_tier_escalation_carries_its_evidence(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        await client.post(path(ticket, "/assign"), json={"assignee_id": "agnes"}, headers=AGENT)
        log = "E/SyncEngine: 401 token refresh failed\n" * 1000
        response = await client.post(
            path(ticket, "/escalations"),
            json={
                "to_tier": 2,
                "reason": "Token refresh fails after reinstall",
                "fault_domain": "account",
                "evidence": [
                    {"kind": "link", "url": "https://status.dropbox.com", "title": "Status page"},
                    {"kind": "log", "content": log},
                ],
            },
            headers=AGENT,
        )
        assert response.status_code == 201, response.text
        escalation = response.json()
        assert (escalation["kind"], escalation["to_tier"]) == ("tier", 2)
        assert [e["kind"] for e in escalation["evidence"]] == ["link", "log"]
        assert escalation["evidence"][1]["content"] == log

        after = (await client.get(path(ticket), headers=AGENT)).json()
        assert (after["tier"], after["assignee_id"]) == (2, None)
        lower = await client.post(
            path(ticket, "/escalations"),
            json={"to_tier": 2, "reason": "again", "fault_domain": "app"},
            headers=AGENT,
        )
        assert lower.status_code == 409
        assert "ticket.escalated" in [e.type for e in await outbox_events(client)]

    async def test_evidence_over_1_mib_is_refused(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.post(
            path(ticket, "/escalations"),
            json={
                "to_tier": 2,
                "reason": "big log",
                "fault_domain": "device",
                "evidence": [{"kind": "log", "content": "x" * (1024 * 1024 + 1)}],
            },
            headers=AGENT,
        )
        assert response.status_code == 422
        assert "1 MiB" in response.text

    async def test_vendor_escalation_waits_on_the_vendor_until_it_answers(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await client.post(path(ticket, "/start"), headers=AGENT)
        response = await client.post(
            path(ticket, "/escalations"),
            json={
                "vendor": "Dropbox",
                "request": "bug_report",
                "vendor_case_ref": "DBX-777",
                "evidence": [{"kind": "note", "content": "Reproduced on two iPads"}],
            },
            headers=AGENT,
        )
        assert response.status_code == 201, response.text
        escalation = response.json()
        assert (escalation["kind"], escalation["status"]) == ("vendor", "open")
        waiting = (await client.get(path(ticket), headers=AGENT)).json()
        assert waiting["status"] == "waiting_on_vendor"

        answered = await client.patch(
            path(ticket, f"/escalations/{escalation['id']}"),
            json={"status": "answered"},
            headers=AGENT,
        )
        assert answered.json()["status"] == "answered"
        back = (await client.get(path(ticket), headers=AGENT)).json()
        assert back["status"] == "in_progress"
        listed = (await client.get(path(ticket, "/escalations"), headers=AGENT)).json()
        assert [e["id"] for e in listed] == [escalation["id"]]

    async def test_requesters_neither_escalate_nor_read_escalations(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        assert (await client.get(path(ticket, "/escalations"), headers=ALICE)).status_code == 403
        response = await client.post(
            path(ticket, "/escalations"),
            json={"to_tier": 3, "reason": "please", "fault_domain": "unknown"},
            headers=ALICE,
        )
        assert response.status_code == 403


class TestEventsNameThePeopleToTell:
    async def test_assignee_and_escalation_group_travel_with_the_event(
        self, client: httpx.AsyncClient
    ) -> None:
        admin = bearer("root", "admin")
        tier2 = await client.post(
            "/v1/groups",
            json={"name": "Tier 2", "tier": 2, "email": "tier2@example.com"},
            headers=admin,
        )
        assert tier2.status_code == 201, tier2.text
        assert tier2.json()["email"] == "tier2@example.com"
        for agent_id, name, tier, groups in [
            ("agnes", "Agnes", 1, []),
            ("gus", "Gus", 2, [tier2.json()["id"]]),
        ]:
            put = await client.put(
                f"/v1/agents/{agent_id}",
                json={
                    "name": name,
                    "email": f"{agent_id}@example.com",
                    "tier": tier,
                    "groups": groups,
                },
                headers=admin,
            )
            assert put.status_code in (200, 201), put.text
        ticket = await open_ticket(client, ALICE)
        await client.post(path(ticket, "/assign"), json={"assignee_id": "agnes"}, headers=AGENT)
        escalated = await client.post(
            path(ticket, "/escalations"),
            json={"to_tier": 2, "reason": "Needs tier 2", "fault_domain": "account"},
            headers=AGENT,
        )
        assert escalated.status_code == 201, escalated.text

        events = {event.type: event.data for event in await outbox_events(client)}
        assert events["ticket.created"]["assignee"] is None
        assert events["ticket.assigned"]["assignee"] == {
            "id": "agnes",
            "name": "Agnes",
            "email": "agnes@example.com",
        }
        group = events["ticket.escalated"]["group"]
        assert (group["name"], group["email"], group["tier"]) == ("Tier 2", "tier2@example.com", 2)
        assert group["members"] == [{"id": "gus", "name": "Gus", "email": "gus@example.com"}]

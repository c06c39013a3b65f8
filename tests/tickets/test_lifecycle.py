"""Triage, the lifecycle actions, versions, comments, history and events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from deskside_kit.database import Sessions, utc_now
from deskside_tickets.config import TicketsSettings
from deskside_tickets.repository import TicketRepository
from deskside_tickets.service import TicketService
from tests.support.apps import app_sessions
from tests.support.plans import plan_of_query
from tests.support.tokens import bearer
from tests.tickets.conftest import (
    ADMIN,
    AGENT,
    ALICE,
    BOB,
    PROBLEM,
    act,
    open_ticket,
    outbox_events,
)


class TestTriage:
    @pytest.mark.parametrize(
        ("impact", "urgency", "priority"),
        [
            ("critical", "critical", "p1"),
            ("high", "critical", "p1"),
            ("critical", "medium", "p2"),
            ("medium", "medium", "p3"),
            ("low", "critical", "p3"),
            ("low", "low", "p4"),
        ],
    )
    async def test_priority_follows_the_itil_matrix(
        self, client: httpx.AsyncClient, impact: str, urgency: str, priority: str
    ) -> None:
        ticket = await open_ticket(client, ALICE, impact=impact, urgency=urgency)
        assert ticket["priority"] == priority
        assert ticket["priority_overridden"] is False

    async def test_every_field_is_kept(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(
            client,
            ALICE,
            channel="chat",
            category="sync",
            device_id="dev_1",
            account_id="acc_1",
            work_stopped=True,
        )
        assert (ticket["channel"], ticket["category"]) == ("chat", "sync")
        assert (ticket["device_id"], ticket["account_id"]) == ("dev_1", "acc_1")
        assert ticket["work_stopped"] is True
        assert ticket["enrichment"] == "none"
        assert ticket["technology"] is None

    async def test_an_agent_opens_a_ticket_for_a_caller(self, client: httpx.AsyncClient) -> None:
        caller = {"id": "dave", "email": "dave@example.com", "name": "Dave Doe"}
        ticket = await open_ticket(client, AGENT, channel="phone", requester=caller)
        assert ticket["requester"] == caller
        assert ticket["created_by"] == "agnes"
        # The person it is for sees it as their own.
        seen = await client.get(f"/v1/tickets/{ticket['reference']}", headers=bearer("dave"))
        assert seen.status_code == 200

    async def test_requesters_cannot_open_for_someone_else(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/tickets", json={"title": "x", "requester": {"id": "bob"}}, headers=ALICE
        )
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM

    async def test_unknown_values_name_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/tickets", json={"title": "x", "channel": "pigeon"}, headers=ALICE
        )
        assert response.status_code == 422
        assert [error["field"] for error in response.json()["errors"]] == ["body.channel"]


class TestChanges:
    async def test_an_agent_overrides_the_priority_with_a_reason(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.patch(
            f"/v1/tickets/{ticket['id']}",
            json={"priority": "p1", "priority_reason": "CEO's phone"},
            headers=AGENT,
        )
        assert response.status_code == 200, response.text
        changed = response.json()
        assert (changed["priority"], changed["priority_overridden"]) == ("p1", True)
        assert changed["priority_reason"] == "CEO's phone"
        assert changed["version"] == ticket["version"] + 1
        assert response.headers["etag"] == f'"{changed["version"]}"'

    async def test_an_override_needs_a_reason(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.patch(
            f"/v1/tickets/{ticket['id']}", json={"priority": "p1"}, headers=AGENT
        )
        assert response.status_code == 422
        assert "priority_reason" in response.json()["detail"]

    async def test_requesters_cannot_triage(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.patch(
            f"/v1/tickets/{ticket['id']}",
            json={"priority": "p1", "priority_reason": "mine is urgent"},
            headers=ALICE,
        )
        assert response.status_code == 403
        edited = await client.patch(
            f"/v1/tickets/{ticket['id']}", json={"title": "Dropbox is stuck"}, headers=ALICE
        )
        assert edited.json()["title"] == "Dropbox is stuck"

    async def test_impact_and_urgency_recompute_the_priority(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.patch(
            f"/v1/tickets/{ticket['id']}",
            json={"impact": "critical", "urgency": "high"},
            headers=AGENT,
        )
        assert response.json()["priority"] == "p1"

    async def test_a_stale_if_match_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        first = await client.patch(
            f"/v1/tickets/{ticket['id']}",
            json={"title": "first"},
            headers={**AGENT, "If-Match": '"1"'},
        )
        assert first.status_code == 200
        second = await client.patch(
            f"/v1/tickets/{ticket['id']}",
            json={"title": "second"},
            headers={**AGENT, "If-Match": '"1"'},
        )
        assert second.status_code == 412
        assert second.headers["content-type"] == PROBLEM
        assert second.json()["current_version"] == 2
        stale_action = await act(client, ticket, "start", AGENT, **{"If-Match": '"1"'})
        assert stale_action.status_code == 412
        now = await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)
        assert (now.json()["title"], now.json()["status"]) == ("first", "new")


class TestLifecycle:
    async def test_the_whole_way_through(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        steps = [
            ("assign", {"assignee_id": "agnes", "group_id": "grp_desk"}, "new"),
            ("start", None, "in_progress"),
            ("wait", {"on": "requester"}, "waiting_on_requester"),
            ("start", None, "in_progress"),
            ("wait", {"on": "vendor"}, "waiting_on_vendor"),
            ("resolve", {"resolution": "Reinstalled the app"}, "resolved"),
            ("close", None, "closed"),
        ]
        version = ticket["version"]
        for action, body, status in steps:
            response = await act(client, ticket, action, AGENT, body)
            assert response.status_code == 200, (action, response.text)
            assert response.json()["status"] == status
            assert response.json()["version"] == version + 1
            version += 1
        final = response.json()
        assert final["assignee_id"] == "agnes"
        assert final["resolution"] == "Reinstalled the app"
        assert final["resolved_at"] is not None
        assert final["closed_at"] is not None

    @pytest.mark.parametrize(
        ("setup", "action", "body"),
        [
            (["start"], "start", None),
            ([], "reopen", {"reason": "x"}),
            (["resolve"], "start", None),
            (["resolve", "close"], "close", None),
            (["resolve", "close"], "assign", {"assignee_id": "agnes"}),
        ],
    )
    async def test_invalid_transitions_are_409_naming_the_status(
        self,
        client: httpx.AsyncClient,
        setup: list[str],
        action: str,
        body: dict[str, Any] | None,
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        bodies = {"resolve": {"resolution": "done"}, "close": None, "start": None}
        for step in setup:
            assert (await act(client, ticket, step, AGENT, bodies[step])).status_code == 200
        response = await act(client, ticket, action, AGENT, body)
        assert response.status_code == 409
        problem = response.json()
        assert response.headers["content-type"] == PROBLEM
        assert problem["type"] == "urn:deskside:problem:invalid-transition"
        current = (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()
        assert problem["current_status"] == current["status"]
        assert current["status"] in problem["detail"]

    async def test_requesters_do_not_work_tickets(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        for action, body in [("start", None), ("resolve", {"resolution": "fixed myself"})]:
            assert (await act(client, ticket, action, ALICE, body)).status_code == 403
        assert (await act(client, ticket, "close", ALICE)).status_code == 403

    async def test_a_requester_confirms_or_reopens_a_resolution(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await act(client, ticket, "resolve", AGENT, {"resolution": "Cleared the cache"})
        reopened = await act(client, ticket, "reopen", ALICE, {"reason": "Still broken"})
        assert reopened.status_code == 200
        assert reopened.json()["status"] == "in_progress"
        assert reopened.json()["resolved_at"] is None
        await act(client, ticket, "resolve", AGENT, {"resolution": "Reinstalled"})
        closed = await act(client, ticket, "close", ALICE)
        assert closed.json()["status"] == "closed"

    async def test_a_closed_ticket_reopens_within_the_window(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await act(client, ticket, "resolve", AGENT, {"resolution": "done"})
        await act(client, ticket, "close", AGENT)
        response = await act(client, ticket, "reopen", ALICE, {"reason": "It is back"})
        assert response.status_code == 200

    async def test_someone_elses_ticket_is_404_for_every_action(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        for action, body in [("reopen", {"reason": "x"}), ("close", None), ("start", None)]:
            response = await act(client, ticket, action, BOB, body)
            assert response.status_code == 404, action


class TestReopenWindowAndAutoClose:
    @pytest.fixture
    async def settings(self, settings: TicketsSettings) -> TicketsSettings:
        return settings.model_copy(update={"reopen_window_days": 0, "auto_close_days": 3})

    async def test_after_the_window_a_closed_ticket_stays_closed(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await act(client, ticket, "resolve", AGENT, {"resolution": "done"})
        await act(client, ticket, "close", AGENT)
        response = await act(client, ticket, "reopen", ALICE, {"reason": "again"})
        assert response.status_code == 409
        assert "0 days" in response.json()["detail"]

    async def test_resolved_tickets_close_by_themselves(
        self, client: httpx.AsyncClient, settings: TicketsSettings
    ) -> None:
        resolved = await open_ticket(client, ALICE)
        await act(client, resolved, "resolve", AGENT, {"resolution": "done"})
        still_open = await open_ticket(client, ALICE)
        sessions = app_sessions(client)

        closed_now = await _close_resolved(sessions, settings, days_from_now=1)
        closed_later = await _close_resolved(sessions, settings, days_from_now=4)

        assert (closed_now, closed_later) == (0, 1)
        after = (await client.get(f"/v1/tickets/{resolved['id']}", headers=AGENT)).json()
        assert after["status"] == "closed"
        untouched = (await client.get(f"/v1/tickets/{still_open['id']}", headers=AGENT)).json()
        assert untouched["status"] == "new"
        history = (await client.get(f"/v1/tickets/{resolved['id']}/history", headers=AGENT)).json()
        assert history["items"][-1]["actor"] == "system"
        assert [e.type for e in await outbox_events(client)][-1] == "ticket.closed"

    async def test_housekeeping_finds_them_in_an_index_of_resolved_tickets_only(
        self, client: httpx.AsyncClient, backend: str
    ) -> None:
        # Every 30 s. An index of every resolved_at ever set, closed tickets included,
        # took a second of the database per round at a million tickets.
        plan = await plan_of_query(
            app_sessions(client),
            lambda session: TicketRepository(session).resolved_before(utc_now(), 100),
            "status = 'resolved'",
        )

        if backend == "postgresql":
            assert "ix_tickets_awaiting_close" in plan, plan
        else:
            # SQLite picks an index of its own liking (the status one, which holds as
            # few rows): any that looks the rows up, not a walk of the whole table.
            assert "SEARCH tickets USING INDEX" in plan, plan


async def _close_resolved(sessions: Sessions, settings: TicketsSettings, days_from_now: int) -> int:
    async with sessions.write_transaction() as session:
        service = TicketService(TicketRepository(session), settings, None)
        return await service.close_resolved(utc_now() + timedelta(days=days_from_now))


class TestConversation:
    async def test_requesters_never_learn_of_internal_notes(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        ref = ticket["reference"]
        note = await client.post(
            f"/v1/tickets/{ref}/comments",
            json={"body": "User is on a jailbroken phone", "internal": True},
            headers=AGENT,
        )
        assert note.status_code == 201
        reply = await client.post(
            f"/v1/tickets/{ref}/comments", json={"body": "Please restart"}, headers=AGENT
        )
        assert reply.status_code == 201

        for_alice = (await client.get(f"/v1/tickets/{ref}/comments", headers=ALICE)).json()
        for_agent = (await client.get(f"/v1/tickets/{ref}/comments", headers=AGENT)).json()
        alice_history = (await client.get(f"/v1/tickets/{ref}/history", headers=ALICE)).text
        agent_history = (await client.get(f"/v1/tickets/{ref}/history", headers=AGENT)).text

        assert [c["body"] for c in for_alice["items"]] == ["Please restart"]
        assert len(for_agent["items"]) == 2
        assert note.json()["id"] not in alice_history
        assert note.json()["id"] in agent_history
        events = await outbox_events(client)
        assert "jailbroken" not in str([event.data for event in events])

    async def test_requesters_cannot_write_internal_notes(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        response = await client.post(
            f"/v1/tickets/{ticket['id']}/comments",
            json={"body": "secret", "internal": True},
            headers=ALICE,
        )
        assert response.status_code == 403

    async def test_the_first_public_agent_reply_is_the_first_response(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        path = f"/v1/tickets/{ticket['id']}"
        await client.post(f"{path}/comments", json={"body": "Any news?"}, headers=ALICE)
        await client.post(f"{path}/comments", json={"body": "x", "internal": True}, headers=AGENT)
        assert (await client.get(path, headers=AGENT)).json()["first_response_at"] is None

        reply = await client.post(f"{path}/comments", json={"body": "On it"}, headers=ADMIN)
        second = await client.post(f"{path}/comments", json={"body": "Done"}, headers=AGENT)

        first_response = (await client.get(path, headers=AGENT)).json()["first_response_at"]
        assert first_response == reply.json()["created_at"]
        assert first_response != second.json()["created_at"]

    async def test_history_records_who_changed_what(self, client: httpx.AsyncClient) -> None:
        ticket = await open_ticket(client, ALICE)
        path = f"/v1/tickets/{ticket['id']}"
        await client.patch(path, json={"title": "Dropbox is stuck"}, headers=AGENT)
        await act(client, ticket, "start", AGENT)

        history = (await client.get(f"{path}/history", headers=ALICE)).json()["items"]

        summary = [(e["actor"], e["action"], e["field"], e["old"], e["new"]) for e in history]
        assert summary == [
            ("alice", "created", None, None, None),
            ("agnes", "updated", "title", "Dropbox stopped syncing", "Dropbox is stuck"),
            ("agnes", "status_changed", "status", "new", "in_progress"),
        ]


class TestEvents:
    async def test_each_change_writes_its_event_in_the_same_transaction(
        self, client: httpx.AsyncClient
    ) -> None:
        ticket = await open_ticket(client, ALICE)
        await act(client, ticket, "assign", AGENT, {"assignee_id": "agnes"})
        await client.post(
            f"/v1/tickets/{ticket['id']}/comments", json={"body": "Hi"}, headers=AGENT
        )
        await act(client, ticket, "resolve", AGENT, {"resolution": "done"})
        await act(client, ticket, "reopen", ALICE, {"reason": "no"})
        # A change refused halfway leaves no event behind.
        await act(client, ticket, "reopen", ALICE, {"reason": "no"})

        events = await outbox_events(client)

        assert [event.type for event in events] == [
            "ticket.created",
            "ticket.assigned",
            "ticket.commented",
            "ticket.resolved",
            "ticket.reopened",
        ]
        assert {event.subject for event in events} == {ticket["id"]}
        assert events[0].data["ticket"]["reference"] == ticket["reference"]
        assert all(event.id.startswith("evt_") for event in events)

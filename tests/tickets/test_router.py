"""The tickets API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from deskside_tickets.repository import ReferenceNumbers
from tests.support.apps import serving
from tests.support.tokens import bearer
from tests.tickets.conftest import AGENT, ALICE, BOB, PROBLEM, open_ticket


class TestCreateTicket:
    async def test_gives_a_reference_number_at_once(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/tickets",
            json={"title": "iPad mail fails", "description": "Error 0x1"},
            headers=ALICE,
        )

        assert response.status_code == 201
        ticket = response.json()
        assert ticket["reference"] == "SD-000001"
        assert ticket["id"].startswith("tkt_")
        assert ticket["status"] == "new"
        assert ticket["requester"] == {
            "id": "alice",
            "email": "alice@example.com",
            "name": "Alice Ames",
        }
        assert ticket["version"] == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", ticket["created_at"])
        assert response.headers["location"] == "/v1/tickets/SD-000001"
        assert response.headers["etag"] == '"1"'

    async def test_references_are_sequential(self, client: httpx.AsyncClient) -> None:
        references = [(await open_ticket(client, ALICE))["reference"] for _ in range(3)]

        assert references == ["SD-000001", "SD-000002", "SD-000003"]

    async def test_concurrent_creates_get_distinct_references(
        self, client: httpx.AsyncClient
    ) -> None:
        tickets = await asyncio.gather(
            *(open_ticket(client, ALICE, title=f"t{i}") for i in range(20))
        )

        references = sorted(ticket["reference"] for ticket in tickets)
        assert references == [f"SD-{n:06d}" for n in range(1, 21)]

    async def test_replicas_never_share_a_number(
        self, settings: TicketsSettings, backend: str
    ) -> None:
        # Two processes on one database. On PostgreSQL each draws its own block of
        # numbers, so the second replica's first ticket comes after the first's block.
        async with serving(create_app(settings)) as first, serving(create_app(settings)) as second:
            references = [
                (await open_ticket(replica, ALICE))["reference"]
                for replica in (first, first, second, first, second)
            ]

        block = ReferenceNumbers.BLOCK
        expected = [1, 2, block + 1, 3, block + 2] if backend == "postgresql" else [1, 2, 3, 4, 5]
        assert references == [f"SD-{n:06d}" for n in expected]

    async def test_a_missing_title_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/tickets", json={"description": "no title"}, headers=ALICE)

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == 422
        assert [error["field"] for error in problem["errors"]] == ["body.title"]
        assert "body.title" in problem["detail"]

    @pytest.mark.parametrize("field", ["id", "reference", "status", "version", "requester"])
    async def test_server_owned_fields_are_refused(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        response = await client.post(
            "/v1/tickets", json={"title": "x", field: "SD-999999"}, headers=ALICE
        )

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == f"body.{field}"
        listing = await client.get("/v1/tickets", headers=ALICE)
        assert listing.json()["items"] == []

    async def test_malformed_json_is_a_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/tickets",
            content=b'{"title": ',
            headers={**ALICE, "Content-Type": "application/json"},
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["code"] == "json_invalid"


class TestGetTicket:
    async def test_by_reference_and_by_id(self, client: httpx.AsyncClient) -> None:
        created = await open_ticket(client, ALICE)

        by_reference = await client.get(f"/v1/tickets/{created['reference']}", headers=ALICE)
        by_id = await client.get(f"/v1/tickets/{created['id']}", headers=ALICE)

        assert by_reference.status_code == by_id.status_code == 200
        assert by_reference.json() == by_id.json() == created
        assert by_reference.headers["etag"] == '"1"'

    async def test_someone_elses_ticket_answers_like_a_missing_one(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await open_ticket(client, ALICE)
        await open_ticket(client, ALICE)  # SD-000002 exists too

        other = await client.get("/v1/tickets/SD-000001", headers=BOB)
        missing = await client.get("/v1/tickets/SD-000999", headers=BOB)

        assert other.status_code == missing.status_code == 404
        assert other.headers["content-type"] == PROBLEM
        # Same answer but for the reference echoed back and the request id.
        assert _without_request_id(other.json()) == _without_request_id(missing.json()) | {
            "detail": "No ticket 'SD-000001' that you can see.",
            "instance": "/v1/tickets/SD-000001",
        }
        assert (await client.get(f"/v1/tickets/{created['id']}", headers=BOB)).status_code == 404

    async def test_agents_see_every_ticket(self, client: httpx.AsyncClient) -> None:
        await open_ticket(client, ALICE)

        response = await client.get("/v1/tickets/SD-000001", headers=AGENT)

        assert response.status_code == 200
        assert response.json()["requester"]["id"] == "alice"


class TestListTickets:
    async def test_requesters_list_only_their_own(self, client: httpx.AsyncClient) -> None:
        await open_ticket(client, ALICE, title="alice's")
        await open_ticket(client, BOB, title="bob's")

        alice_sees = (await client.get("/v1/tickets", headers=ALICE)).json()["items"]
        agent_sees = (await client.get("/v1/tickets", headers=AGENT)).json()["items"]

        assert [t["title"] for t in alice_sees] == ["alice's"]
        assert [t["title"] for t in agent_sees] == ["bob's", "alice's"]

    async def test_cursor_pages_cover_every_ticket_once(self, client: httpx.AsyncClient) -> None:
        for number in range(5):
            await open_ticket(client, ALICE, title=f"ticket {number}")

        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/tickets", params=params, headers=ALICE)).json()
            seen += [ticket["reference"] for ticket in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert pages == 3
        assert seen == [f"SD-{n:06d}" for n in range(5, 0, -1)]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": 201}, "query.limit"),
            ({"limit": 0}, "query.limit"),
            ({"limit": "x"}, "query.limit"),
        ],
    )
    async def test_bad_limits_name_the_parameter(
        self, client: httpx.AsyncClient, params: dict[str, Any], field: str
    ) -> None:
        response = await client.get("/v1/tickets", params=params, headers=ALICE)

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field

    @pytest.mark.parametrize("cursor", ["not-a-cursor", "WzFd", "e30"])
    async def test_a_forged_cursor_is_a_clear_422(
        self, client: httpx.AsyncClient, cursor: str
    ) -> None:
        response = await client.get("/v1/tickets", params={"cursor": cursor}, headers=ALICE)

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert "query.cursor" in response.json()["detail"]


class TestAuthentication:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", "/v1/tickets"), ("GET", "/v1/tickets"), ("GET", "/v1/tickets/SD-000001")],
    )
    async def test_no_token_is_401(self, client: httpx.AsyncClient, method: str, path: str) -> None:
        response = await client.request(method, path, json={"title": "x"})

        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_a_token_signed_with_another_key_is_401(self, client: httpx.AsyncClient) -> None:
        from deskside_kit.tokens import mint_token

        forged = mint_token("another-secret-" * 4, sub="mallory", roles=["admin"])
        response = await client.get("/v1/tickets", headers={"Authorization": f"Bearer {forged}"})

        assert response.status_code == 401
        assert "signature" in response.json()["detail"]

    async def test_integrations_see_only_the_tickets_they_opened(
        self, client: httpx.AsyncClient
    ) -> None:
        monitor = bearer("monitor", "integration")
        await open_ticket(client, ALICE)
        opened = await open_ticket(
            client, monitor, channel="alert", requester={"id": "carol", "email": "c@example.com"}
        )

        listed = (await client.get("/v1/tickets", headers=monitor)).json()["items"]

        assert [ticket["id"] for ticket in listed] == [opened["id"]]
        assert (await client.get("/v1/tickets/SD-000001", headers=monitor)).status_code == 404


def _without_request_id(problem: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in problem.items() if key != "request_id"}

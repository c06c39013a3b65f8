"""Consumer-service accounts (BYOS): declared use and IT's decision on it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.repository import TechnologyRepository
from deskside_kit.outbox import OutboxEvent
from tests.support.apps import app_sessions
from tests.support.tokens import bearer

AGENT = bearer("agnes", "agent")
ALICE = bearer("alice", "requester", email="alice@example.com")
BOB = bearer("bob", "requester")


@pytest.fixture(autouse=True)
async def catalog(client: httpx.AsyncClient) -> None:
    async with app_sessions(client).write_transaction() as session:
        await load_starter_catalog(TechnologyRepository(session))


async def declare(
    client: httpx.AsyncClient, technology: str, classification: str, headers: dict[str, str] = ALICE
) -> dict[str, Any]:
    response = await client.post(
        "/v1/accounts",
        json={
            "technology": technology,
            "identifier": "alice.ames@gmail.com",
            "purpose": "Sharing slides with a customer",
            "data_classification": classification,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account


async def event_types(client: httpx.AsyncClient) -> list[str]:
    async with app_sessions(client).reading() as session:
        rows = await session.exec(select(OutboxEvent).order_by(OutboxEvent.sequence))  # type: ignore[arg-type]
        return [event.type for event in rows.all() if event.type.startswith("account.")]


class TestGroundRules:
    async def test_a_prohibited_service_is_rejected_at_once_with_the_alternative(
        self, client: httpx.AsyncClient
    ) -> None:
        account = await declare(client, "wetransfer", "internal")
        assert account["status"] == "rejected"
        assert account["decided_by"] == "policy"
        assert account["recommended_alternative"] == "onedrive"
        assert "prohibited" in account["decision_note"]
        assert "onedrive" in account["decision_note"]
        assert await event_types(client) == ["account.rejected"]

    @pytest.mark.parametrize("classification", ["public", "internal"])
    async def test_a_supported_service_with_low_risk_data_is_approved_at_once(
        self, client: httpx.AsyncClient, classification: str
    ) -> None:
        account = await declare(client, "onedrive", classification)
        assert (account["status"], account["decided_by"]) == ("approved", "policy")
        assert await event_types(client) == ["account.approved"]

    @pytest.mark.parametrize(
        ("technology", "classification"),
        [("onedrive", "confidential"), ("onedrive", "restricted"), ("dropbox", "public")],
    )
    async def test_anything_else_waits_for_an_agent(
        self, client: httpx.AsyncClient, technology: str, classification: str
    ) -> None:
        account = await declare(client, technology, classification)
        assert (account["status"], account["decided_by"]) == ("requested", None)
        assert await event_types(client) == ["account.requested"]

    async def test_only_services_from_the_catalog(self, client: httpx.AsyncClient) -> None:
        for technology in ("ios", "myspace"):
            response = await client.post(
                "/v1/accounts",
                json={
                    "technology": technology,
                    "identifier": "x",
                    "purpose": "x",
                    "data_classification": "public",
                },
                headers=ALICE,
            )
            assert response.status_code == 422, technology


class TestDecisions:
    async def test_an_agent_approves_then_revokes(self, client: httpx.AsyncClient) -> None:
        account = await declare(client, "dropbox", "confidential")
        path = f"/v1/accounts/{account['id']}"
        approved = await client.post(
            f"{path}/approve", json={"note": "Customer requires it"}, headers=AGENT
        )
        assert approved.json()["status"] == "approved"
        assert approved.json()["decided_by"] == "agnes"
        again = await client.post(f"{path}/approve", headers=AGENT)
        assert again.status_code == 409
        assert again.json()["current_status"] == "approved"
        revoked = await client.post(f"{path}/revoke", headers={**AGENT, "If-Match": '"2"'})
        assert revoked.json()["status"] == "revoked"
        assert await event_types(client) == ["account.requested", "account.approved"]

    async def test_an_agent_rejects_with_a_note(self, client: httpx.AsyncClient) -> None:
        account = await declare(client, "dropbox", "restricted")
        rejected = await client.post(
            f"/v1/accounts/{account['id']}/reject",
            json={"note": "Restricted data stays on OneDrive"},
            headers=AGENT,
        )
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["decision_note"] == "Restricted data stays on OneDrive"

    async def test_requesters_do_not_decide(self, client: httpx.AsyncClient) -> None:
        account = await declare(client, "dropbox", "confidential")
        response = await client.post(f"/v1/accounts/{account['id']}/approve", headers=ALICE)
        assert response.status_code == 403


class TestAccess:
    async def test_requesters_see_only_their_own(self, client: httpx.AsyncClient) -> None:
        account = await declare(client, "dropbox", "public")
        await declare(client, "gmail", "public", headers=BOB)
        theirs = await client.get(f"/v1/accounts/{account['id']}", headers=BOB)
        assert theirs.status_code == 404
        mine = (await client.get("/v1/accounts", headers=ALICE)).json()["items"]
        everyone = (await client.get("/v1/accounts", headers=AGENT)).json()["items"]
        assert [a["owner"]["id"] for a in mine] == ["alice"]
        assert len(everyone) == 2
        waiting = (await client.get("/v1/accounts?status=requested", headers=AGENT)).json()
        assert {a["technology"] for a in waiting["items"]} == {"dropbox", "gmail"}


async def test_a_tier_change_counts_the_people_affected(client: httpx.AsyncClient) -> None:
    await declare(client, "dropbox", "public")
    await declare(client, "dropbox", "confidential")  # the same person twice counts once
    await declare(client, "dropbox", "public", headers=BOB)
    await declare(client, "dropbox", "public", headers=bearer("carol"))
    carol_account = (await client.get("/v1/accounts?owner=carol", headers=AGENT)).json()
    await client.post(
        f"/v1/accounts/{carol_account['items'][0]['id']}/reject", headers=AGENT
    )  # a refused account is no use of it
    admin = bearer("root", "admin")

    await client.patch(
        "/v1/technologies/dropbox", json={"support_tier": "prohibited"}, headers=admin
    )

    async with app_sessions(client).reading() as session:
        rows = await session.exec(
            select(OutboxEvent).where(OutboxEvent.type == "technology.tier_changed")
        )
        (event,) = rows.all()
    assert event.data["people_affected"] == 2
    assert [person["id"] for person in event.data["people"]] == ["alice", "bob"]
    assert event.data["people"][0]["email"] == "alice@example.com"

"""The adoption report, computed by hand for a small estate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.models import DiscoveredUse
from deskside_inventory.repository import TechnologyRepository
from tests.support.apps import app_sessions
from tests.support.tokens import bearer

AGENT = bearer("agnes", "agent")
# What each person's token says of their department.
DEPARTMENTS = {"ann": "sales", "bo": "sales", "cy": "engineering"}


@pytest.fixture(autouse=True)
async def estate(client: httpx.AsyncClient) -> None:
    """Messaging: ann and bo (sales) on Teams (recommended), cy (engineering) on Slack,
    ann also seen on WhatsApp."""
    async with app_sessions(client).write_transaction() as session:
        await load_starter_catalog(TechnologyRepository(session))
        session.add(DiscoveredUse(owner_id="ann", technology="whatsapp", device_id="dev_1"))
        session.add(DiscoveredUse(owner_id="cy", technology="slack", device_id="dev_2"))
    for person, technology in [("ann", "teams"), ("bo", "teams"), ("cy", "slack")]:
        response = await client.post(
            "/v1/accounts",
            json={
                "technology": technology,
                "identifier": f"{person}@example.com",
                "purpose": "team chat",
                "data_classification": "internal",
            },
            headers=bearer(person, department=DEPARTMENTS[person]),
        )
        assert response.status_code == 201
    for person, encrypted in [("ann", True), ("bo", False)]:
        response = await client.post(
            "/v1/devices",
            json={
                "ownership": "personal",
                "technology": "ios",
                "os_version": "17.5",
                "encrypted": encrypted,
                "passcode_set": True,
            },
            headers=bearer(person),
        )
        assert response.status_code == 201


async def report(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/reports/adoption", params=params, headers=AGENT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_per_technology(client: httpx.AsyncClient) -> None:
    rows = {row["technology"]: row for row in (await report(client))["technologies"]}
    assert set(rows) == {"ios", "slack", "teams", "whatsapp"}
    assert (rows["teams"]["declared_accounts"], rows["teams"]["people"]) == (2, 2)
    # cy declared Slack, so seeing it on cy's device is not shadow IT; ann's WhatsApp is.
    assert rows["slack"]["discovered_undeclared"] == 0
    assert rows["whatsapp"]["discovered_undeclared"] == 1
    assert (rows["ios"]["devices"], rows["ios"]["people"]) == (2, 2)


async def test_per_category_splintering(client: httpx.AsyncClient) -> None:
    messaging = next(
        c for c in (await report(client))["categories"] if c["category"] == "messaging"
    )
    assert messaging["technologies_in_use"] == 3
    assert messaging["people"] == 3
    # ann and bo are on Teams (recommended); cy only on Slack.
    assert messaging["recommended_share"] == pytest.approx(2 / 3, abs=0.001)
    # Person-uses: Teams 2, Slack 1, WhatsApp 1 -> shares 1/2, 1/4, 1/4 -> 1 / (3/8).
    assert messaging["effective_technologies"] == pytest.approx(8 / 3, abs=0.01)


async def test_compliance_summary(client: httpx.AsyncClient) -> None:
    compliance = (await report(client))["compliance"]
    assert compliance == {
        "by_state": {"compliant": 1, "noncompliant": 1},
        "by_reason": {"not_encrypted": 1},
    }


async def test_requesters_do_not_read_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/adoption", headers=bearer("ann"))
    assert response.status_code == 403


async def test_a_future_range_counts_nothing(client: httpx.AsyncClient) -> None:
    body = await report(client, **{"from": "2999-01-01T00:00:00Z"})
    assert body["technologies"] == []
    assert body["from"] == "2999-01-01T00:00:00.000000Z"


async def test_a_department_counts_only_its_people(client: httpx.AsyncClient) -> None:
    sales = await report(client, department="sales")
    engineering = await report(client, department="engineering")
    nobody = await report(client, department="legal")

    sales_rows = {row["technology"]: row["people"] for row in sales["technologies"]}
    # ann's WhatsApp was discovered, not declared: it still counts for her department.
    assert sales_rows == {"ios": 2, "teams": 2, "whatsapp": 1}
    assert sales["department"] == "sales"
    assert {row["technology"] for row in engineering["technologies"]} == {"slack"}
    assert engineering["compliance"] == {"by_state": {}, "by_reason": {}}
    assert nobody["technologies"] == []


async def test_an_agent_can_name_the_department_of_whom_they_register_for(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/devices",
        json={
            "owner": {"id": "dee", "email": "dee@example.com", "department": "legal"},
            "ownership": "corporate",
            "technology": "macos",
            "os_version": "15.1",
        },
        headers=AGENT,
    )
    assert response.status_code == 201, response.text
    legal = await report(client, department="legal")
    assert [row["technology"] for row in legal["technologies"]] == ["macos"]

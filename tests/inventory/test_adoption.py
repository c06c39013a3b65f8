"""The adoption report, computed by hand for a small estate."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.models import Account, Device, DiscoveredUse
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


async def test_a_person_counts_once_per_technology_and_category(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/devices",
        json={"ownership": "personal", "technology": "ios", "os_version": "18.1"},
        headers=bearer("ann"),
    )
    assert response.status_code == 201
    rows = {row["technology"]: row for row in (await report(client))["technologies"]}
    # ann's second iPhone is a device more, not a person more.
    assert (rows["ios"]["devices"], rows["ios"]["people"]) == (3, 2)
    # cy declared Slack and was also seen using it: one person, one account.
    slack = rows["slack"]
    assert (slack["devices"], slack["declared_accounts"], slack["people"]) == (0, 1, 1)
    phones = next(c for c in (await report(client))["categories"] if c["category"] == "phone")
    assert (phones["technologies_in_use"], phones["people"]) == (1, 2)


async def test_a_rejected_account_does_not_declare_what_was_seen(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/accounts",
        json={
            "technology": "telegram",
            "identifier": "bo@example.com",
            "purpose": "team chat",
            "data_classification": "internal",
        },
        headers=bearer("bo", department="sales"),
    )
    assert response.json()["status"] == "rejected"
    async with app_sessions(client).write_transaction() as session:
        session.add(DiscoveredUse(owner_id="bo", technology="telegram", device_id="dev_3"))
    rows = {row["technology"]: row for row in (await report(client))["technologies"]}
    telegram = rows["telegram"]
    assert (telegram["declared_accounts"], telegram["discovered_undeclared"]) == (0, 1)
    assert telegram["people"] == 1
    sales = {
        row["technology"]: row for row in (await report(client, department="sales"))["technologies"]
    }
    assert sales["telegram"]["discovered_undeclared"] == 1
    assert sales["whatsapp"]["discovered_undeclared"] == 1


async def test_compliance_counts_every_reason_of_a_device(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/devices",
        json={
            "ownership": "personal",
            "technology": "android",
            "os_version": "14",
            "encrypted": False,
            "passcode_set": False,
        },
        headers=bearer("cy"),
    )
    assert response.status_code == 201
    compliance = (await report(client))["compliance"]
    assert compliance == {
        "by_state": {"compliant": 1, "noncompliant": 2},
        "by_reason": {"no_passcode": 1, "not_encrypted": 2},
    }


async def test_the_range_counts_use_seen_since_from_and_begun_before_to(
    client: httpx.AsyncClient,
) -> None:
    long_ago = datetime(2020, 3, 1, tzinfo=UTC)
    async with app_sessions(client).write_transaction() as session:
        device = Device(
            owner_id="old",
            ownership="personal",
            technology="macos",
            enrolled_at=long_ago,
            created_at=long_ago,
            updated_at=long_ago,
        )
        session.add(device)
        session.add(
            Account(
                owner_id="old",
                technology="zoom",
                identifier="old@example.com",
                purpose="customer calls",
                data_classification="internal",
                status="approved",
                created_at=long_ago,
                updated_at=long_ago,
            )
        )
        for technology in ("zoom", "whatsapp"):
            session.add(
                DiscoveredUse(
                    owner_id="old",
                    technology=technology,
                    device_id=device.id,
                    first_seen_at=long_ago,
                    last_seen_at=long_ago,
                )
            )

    before = await report(client, to="2021-01-01T00:00:00Z")
    rows = {row["technology"]: row for row in before["technologies"]}
    assert set(rows) == {"macos", "whatsapp", "zoom"}
    assert (rows["macos"]["devices"], rows["macos"]["people"]) == (1, 1)
    assert (rows["zoom"]["declared_accounts"], rows["zoom"]["discovered_undeclared"]) == (1, 0)
    assert rows["whatsapp"]["discovered_undeclared"] == 1
    assert before["compliance"] == {"by_state": {"unknown": 1}, "by_reason": {}}
    between = await report(client, **{"from": "2020-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z"})
    assert between["technologies"] == before["technologies"]

    since = await report(client, **{"from": "2021-01-01T00:00:00Z"})
    assert {row["technology"] for row in since["technologies"]} == {
        "ios",
        "slack",
        "teams",
        "whatsapp",
    }
    # Only ann's WhatsApp is seen since then: old's was seen before.
    assert {row["technology"]: row["people"] for row in since["technologies"]}["whatsapp"] == 1


async def test_as_csv_a_row_per_technology_with_its_categorys_figures(
    client: httpx.AsyncClient,
) -> None:
    as_json = await report(client)

    response = await client.get("/v1/reports/adoption", params={"format": "csv"}, headers=AGENT)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="deskside-adoption.csv"' in response.headers["content-disposition"]
    reader = csv.DictReader(response.text.splitlines())
    assert reader.fieldnames == [
        "technology",
        "name",
        "category",
        "support_tier",
        "recommended",
        "devices",
        "declared_accounts",
        "discovered_undeclared",
        "people",
        "category_technologies_in_use",
        "category_people",
        "category_recommended_share",
        "category_effective_technologies",
    ]
    rows = {row["technology"]: row for row in reader}
    assert set(rows) == {"ios", "slack", "teams", "whatsapp"}
    for use in as_json["technologies"]:
        row = rows[use["technology"]]
        assert row["recommended"] == str(use["recommended"]).lower()
        for column in ("name", "category", "support_tier"):
            assert row[column] == use[column]
        for column in ("devices", "declared_accounts", "discovered_undeclared", "people"):
            assert int(row[column]) == use[column]
    messaging = next(c for c in as_json["categories"] if c["category"] == "messaging")
    for technology in ("slack", "teams", "whatsapp"):
        assert int(rows[technology]["category_people"]) == messaging["people"] == 3
        share = float(rows[technology]["category_recommended_share"])
        assert share == messaging["recommended_share"]


async def test_json_is_the_default_and_an_unknown_format_a_422(client: httpx.AsyncClient) -> None:
    default = await client.get("/v1/reports/adoption", headers=AGENT)
    unknown = await client.get("/v1/reports/adoption", params={"format": "pdf"}, headers=AGENT)

    assert default.headers["content-type"] == "application/json"
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in unknown.json()["errors"]] == ["query.format"]

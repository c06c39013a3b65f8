"""Audit: every change and every refusal leaves a record of who, what, when and which request.

Admins read each service's trail at `/v1/audit/<service>`, directly or through
the gateway; no one else can.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.hard import parts
from tests.support.access import CALLERS
from tests.support.apps import serving
from tests.support.servers import serving_over_http

pytestmark = pytest.mark.hard

ALICE, BOB, AGENT, ADMIN = (CALLERS[c] for c in ("own", "other", "agent", "admin"))


async def _trail(client: httpx.AsyncClient, service: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/audit/{service}", params=params, headers=ADMIN)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_every_change_and_refusal_is_recorded_and_only_admins_read_them(
    client: httpx.AsyncClient, inventory: httpx.AsyncClient, notify: httpx.AsyncClient
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    ticket = (await client.post("/v1/tickets", json={"title": "VPN"}, headers=ALICE)).json()
    device_body = {"ownership": "personal", "technology": "ios"}
    # service, client, method, path, headers, body, the actor its record must name
    calls: list[tuple[str, httpx.AsyncClient, str, str, dict[str, str], object, str | None]] = [
        (
            "tickets",
            client,
            "PATCH",
            f"/v1/tickets/{ticket['reference']}",
            ALICE,
            {"title": "x"},
            "alice",
        ),
        (
            "tickets",
            client,
            "POST",
            f"/v1/tickets/{ticket['reference']}/start",
            AGENT,
            None,
            "agnes",
        ),
        ("tickets", client, "GET", f"/v1/tickets/{ticket['reference']}", BOB, None, "bob"),  # 404
        ("tickets", client, "GET", "/v1/sla-policies", ALICE, None, "alice"),  # 403
        ("tickets", client, "GET", "/v1/tickets", {}, None, None),  # 401
        ("inventory", inventory, "POST", "/v1/devices", ALICE, device_body, "alice"),
        ("inventory", inventory, "GET", "/v1/reports/adoption", BOB, None, "bob"),  # 403
        ("notify", notify, "PUT", "/v1/preferences/me", ALICE, {"muted_event_types": []}, "alice"),
        ("notify", notify, "GET", "/v1/templates", AGENT, None, "agnes"),  # 403
        ("notify", notify, "GET", "/v1/audit/notify", ALICE, None, "alice"),  # 403, recorded too
    ]
    # Successful reads change nothing and are not recorded.
    quiet = [
        (client, f"/v1/tickets/{ticket['reference']}", ALICE),
        (inventory, "/v1/technologies", ALICE),
        (notify, "/v1/notifications", ALICE),
    ]
    expected = []
    for service, service_client, method, path, headers, body, actor in calls:
        response = await service_client.request(method, path, json=body, headers=headers)
        expected.append(
            {
                "service": service,
                "method": method,
                "path": path,
                "status": response.status_code,
                "request_id": response.headers["x-request-id"],
                "actor": actor,
            }
        )
    quiet_ids = []
    for service_client, path, headers in quiet:
        response = await service_client.get(path, headers=headers)
        assert response.status_code == 200
        quiet_ids.append(response.headers["x-request-id"])

    trails = {
        "tickets": await _trail(client, "tickets"),
        "inventory": await _trail(inventory, "inventory"),
        "notify": await _trail(notify, "notify"),
    }
    missing = []
    for want in expected:
        found = [
            record
            for record in trails[str(want["service"])]
            if record["request_id"] == want["request_id"]
        ]
        if len(found) != 1:
            missing.append(want)
            continue
        (record,) = found
        assert (record["method"], record["path"], record["status"], record["actor"]) == (
            want["method"],
            want["path"],
            want["status"],
            want["actor"],
        )
        assert datetime.fromisoformat(str(record["at"]).replace("Z", "+00:00")) >= started
    recorded_ids = {record["request_id"] for trail in trails.values() for record in trail}
    assert recorded_ids.isdisjoint(quiet_ids)

    refused = [
        (await service_client.get(f"/v1/audit/{service}", headers=headers)).status_code
        for service, service_client in (
            ("tickets", client),
            ("inventory", inventory),
            ("notify", notify),
        )
        for headers in (ALICE, AGENT, CALLERS["integ"], {})
    ]
    print(
        f"\naudit: {len(expected)} changes and refusals, {len(expected) - len(missing)} recorded "
        f"with who, what, when and request id; {len(refused)} reads by non-admins, "
        f"{sum(status < 400 for status in refused)} allowed"
    )
    assert missing == []
    assert all(status in (401, 403) for status in refused)


async def test_the_gateway_routes_each_services_trail(tmp_path: Path) -> None:
    tickets = parts.tickets(tmp_path / "t")
    async with (
        serving_over_http(tickets, lifespan="on") as tickets_url,
        serving(parts.gateway(tmp_path, tickets_url=tickets_url)) as gateway,
    ):
        await gateway.post("/v1/tickets", json={"title": "Printer"}, headers=ALICE)
        trail = await gateway.get("/v1/audit/tickets", headers=ADMIN)
        refused = await gateway.get("/v1/audit/tickets", headers=ALICE)
    assert trail.status_code == 200
    assert [r["method"] for r in trail.json()["items"]][-1:] == ["POST"]
    assert refused.status_code == 403

"""Devices (BYOD): registration, privacy, access and computed compliance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.devices import DeviceService
from deskside_inventory.models import Device
from deskside_inventory.repository import DeviceRepository, TechnologyRepository
from deskside_kit.database import utc_now
from deskside_kit.outbox import OutboxEvent
from tests.support.apps import app_sessions
from tests.support.tokens import bearer

ADMIN = bearer("root", "admin")
AGENT = bearer("agnes", "agent")
ALICE = bearer("alice", "requester", email="alice@example.com", name="Alice Ames")
BOB = bearer("bob", "requester")
PROBLEM = "application/problem+json"
IPHONE: dict[str, Any] = {
    "ownership": "personal",
    "technology": "ios",
    "model": "iPhone 15",
    "name": "Alice's phone",
    "os_version": "17.4",
    "encrypted": True,
    "passcode_set": True,
}


@pytest.fixture(autouse=True)
async def catalog(client: httpx.AsyncClient) -> None:
    async with app_sessions(client).write_transaction() as session:
        await load_starter_catalog(TechnologyRepository(session))


async def register(
    client: httpx.AsyncClient, headers: dict[str, str] = ALICE, **fields: Any
) -> dict[str, Any]:
    response = await client.post("/v1/devices", json={**IPHONE, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    device: dict[str, Any] = response.json()
    return device


async def events(client: httpx.AsyncClient, event_type: str) -> list[OutboxEvent]:
    async with app_sessions(client).reading() as session:
        rows = await session.exec(select(OutboxEvent).where(OutboxEvent.type == event_type))
        return list(rows.all())


class TestRegistration:
    async def test_an_employee_registers_their_own_device(self, client: httpx.AsyncClient) -> None:
        device = await register(client)
        assert device["owner"] == {
            "id": "alice",
            "email": "alice@example.com",
            "name": "Alice Ames",
        }
        assert device["ownership"] == "personal"
        assert device["compliance"] == {"state": "compliant", "reasons": []}
        assert len(await events(client, "device.registered")) == 1

    async def test_an_agent_registers_one_for_someone(self, client: httpx.AsyncClient) -> None:
        device = await register(client, AGENT, owner={"id": "carol", "email": "carol@example.com"})
        assert device["owner"]["id"] == "carol"
        carol = bearer("carol")
        assert (await client.get(f"/v1/devices/{device['id']}", headers=carol)).status_code == 200
        refused = await client.post(
            "/v1/devices", json={**IPHONE, "owner": {"id": "bob"}}, headers=ALICE
        )
        assert refused.status_code == 403

    async def test_ownership_is_required_and_explicit(self, client: httpx.AsyncClient) -> None:
        body = {key: value for key, value in IPHONE.items() if key != "ownership"}
        response = await client.post("/v1/devices", json=body, headers=ALICE)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["body.ownership"]

    @pytest.mark.parametrize("field", ["serial_number", "imei"])
    async def test_personal_devices_keep_no_hardware_identifiers(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        response = await client.post(
            "/v1/devices", json={**IPHONE, field: "F2LXK0AAHG7F"}, headers=ALICE
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert field in response.json()["detail"]
        assert [e["field"] for e in response.json()["errors"]] == [f"body.{field}"]
        async with app_sessions(client).reading() as session:
            assert (await session.exec(select(Device))).all() == []

    async def test_corporate_devices_may_keep_them(self, client: httpx.AsyncClient) -> None:
        device = await register(client, ownership="corporate", serial_number="C02XK0AAHG7F")
        assert device["serial_number"] == "C02XK0AAHG7F"
        later = await client.patch(
            f"/v1/devices/{device['id']}", json={"imei": "356938035643809"}, headers=ALICE
        )
        assert later.json()["imei"] == "356938035643809"

    async def test_a_personal_device_cannot_gain_one_later(self, client: httpx.AsyncClient) -> None:
        device = await register(client)
        response = await client.patch(
            f"/v1/devices/{device['id']}", json={"imei": "356938035643809"}, headers=ALICE
        )
        assert response.status_code == 422

    async def test_only_platforms_from_the_catalog(self, client: httpx.AsyncClient) -> None:
        for technology in ("dropbox", "nokia-n95"):
            response = await client.post(
                "/v1/devices", json={**IPHONE, "technology": technology}, headers=ALICE
            )
            assert response.status_code == 422, technology
            assert technology in response.json()["detail"]


class TestAccess:
    async def test_others_devices_answer_like_missing_ones(self, client: httpx.AsyncClient) -> None:
        device = await register(client)
        mine = await client.get(f"/v1/devices/{device['id']}", headers=ALICE)
        theirs = await client.get(f"/v1/devices/{device['id']}", headers=BOB)
        missing = await client.get("/v1/devices/dev_nothing", headers=BOB)
        assert mine.status_code == 200
        assert (theirs.status_code, missing.status_code) == (404, 404)
        assert theirs.json()["title"] == missing.json()["title"]
        patch = await client.patch(f"/v1/devices/{device['id']}", json={"name": "x"}, headers=BOB)
        assert patch.status_code == 404

    async def test_lists_show_requesters_their_own_and_agents_all(
        self, client: httpx.AsyncClient
    ) -> None:
        await register(client)
        await register(client, BOB, name="Bob's tablet", technology="ipados")
        alice = (await client.get("/v1/devices?owner=bob", headers=ALICE)).json()
        agent = (await client.get("/v1/devices", headers=AGENT)).json()
        assert [d["owner"]["id"] for d in alice["items"]] == ["alice"]
        assert sorted(d["owner"]["id"] for d in agent["items"]) == ["alice", "bob"]
        by_platform = (await client.get("/v1/devices?technology=ipados", headers=AGENT)).json()
        assert [d["name"] for d in by_platform["items"]] == ["Bob's tablet"]


class TestCompliance:
    @pytest.mark.parametrize(
        ("fields", "state", "reasons"),
        [
            ({}, "compliant", []),
            ({"os_version": "15.8"}, "noncompliant", ["os_below_minimum"]),
            ({"encrypted": False}, "noncompliant", ["not_encrypted"]),
            ({"passcode_set": False, "encrypted": False}, "noncompliant",
             ["not_encrypted", "no_passcode"]),
            ({"passcode_set": None}, "unknown", []),
            ({"os_version": None}, "unknown", []),
            ({"technology": "windows", "os_version": "10.0.9"}, "noncompliant",
             ["os_below_minimum"]),
            ({"technology": "windows", "os_version": "10.0.22631"}, "compliant", []),
        ],
    )  # fmt: skip
    async def test_it_is_computed_with_its_reasons(
        self, client: httpx.AsyncClient, fields: dict[str, Any], state: str, reasons: list[str]
    ) -> None:
        device = await register(client, **fields)
        assert device["compliance"] == {"state": state, "reasons": reasons}

    async def test_a_prohibited_platform_is_noncompliant(self, client: httpx.AsyncClient) -> None:
        await client.patch(
            "/v1/technologies/android", json={"support_tier": "prohibited"}, headers=ADMIN
        )
        device = await register(client, technology="android", os_version="14")
        assert device["compliance"]["reasons"] == ["platform_prohibited"]

    async def test_a_change_recomputes_it_and_announces_the_change(
        self, client: httpx.AsyncClient
    ) -> None:
        device = await register(client)
        worse = await client.patch(
            f"/v1/devices/{device['id']}",
            json={"encrypted": False},
            headers={**ALICE, "If-Match": '"1"'},
        )
        assert worse.json()["compliance"] == {"state": "noncompliant", "reasons": ["not_encrypted"]}
        renamed = await client.patch(
            f"/v1/devices/{device['id']}", json={"name": "Work phone"}, headers=ALICE
        )
        assert renamed.json()["version"] == 3
        changes = await events(client, "device.compliance_changed")
        assert len(changes) == 1
        assert changes[0].data["old"]["state"] == "compliant"
        assert changes[0].data["new"] == {"state": "noncompliant", "reasons": ["not_encrypted"]}
        stale = await client.patch(
            f"/v1/devices/{device['id']}", json={"name": "x"}, headers={**ALICE, "If-Match": '"1"'}
        )
        assert stale.status_code == 412

    async def test_devices_that_stop_checking_in_become_noncompliant(
        self, client: httpx.AsyncClient
    ) -> None:
        device = await register(client)
        fresh = await register(client, name="New phone")
        async with app_sessions(client).write_transaction() as session:
            row = await session.get(Device, device["id"])
            assert row is not None
            row.enrolled_at -= timedelta(days=31)
            session.add(row)

        async def recheck() -> int:
            async with app_sessions(client).write_transaction() as session:
                service = DeviceService(
                    DeviceRepository(session),
                    TechnologyRepository(session),
                    stale_after=timedelta(days=30),
                )
                return await service.recheck_stale(utc_now())

        assert (await recheck(), await recheck()) == (1, 0)
        after = (await client.get(f"/v1/devices/{device['id']}", headers=ALICE)).json()
        assert after["compliance"]["reasons"] == ["no_recent_check_in"]
        untouched = (await client.get(f"/v1/devices/{fresh['id']}", headers=ALICE)).json()
        assert untouched["compliance"]["state"] == "compliant"

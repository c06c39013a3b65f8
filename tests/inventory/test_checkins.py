"""Check-ins from device management, signed the Standard Webhooks way."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from deskside_inventory.app import create_app
from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.config import InventorySettings
from deskside_inventory.models import Device, DiscoveredUse
from deskside_inventory.repository import TechnologyRepository
from deskside_kit.database import Sessions
from deskside_kit.outbox import OutboxEvent
from tests.conftest import DatabaseUrlFor
from tests.support.apps import app_sessions, serving
from tests.support.tokens import TEST_JWT_SECRET, bearer

SECRET = "whsec_" + base64.b64encode(b"device-management-secret-0123456").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-elses-secret-0123456789").decode()
AGENT = bearer("agnes", "agent")

SNAPSHOT: dict[str, Any] = {
    "external_id": "mdm-42",
    "owner_email": "alice@example.com",
    "owner_id": "alice",
    "ownership": "personal",
    "platform": "android",
    "model": "Pixel 8",
    "os_version": "14",
    "encrypted": True,
    "passcode_set": True,
    "apps": [
        {"identifier": "com.whatsapp", "name": "WhatsApp", "version": "2.24"},
        {"identifier": "com.example.unknown", "name": "Something"},
    ],
}


@pytest.fixture
async def client(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = InventorySettings(
        env="test",
        var_dir=tmp_path,
        database_url=await database_url_for("inventory"),
        jwt_secret=TEST_JWT_SECRET,
        checkin_secrets={"mdm": SECRET},
        relay_enabled=False,
    )
    app = create_app(settings)
    async with serving(app) as client:
        sessions: Sessions = app.state.sessions
        async with sessions.write_transaction() as session:
            await load_starter_catalog(TechnologyRepository(session))
        yield client


def signed(
    body: bytes, webhook_id: str, secret: str = SECRET, at: datetime | None = None
) -> dict[str, str]:
    timestamp = at or datetime.now(UTC)
    signature = Webhook(secret).sign(webhook_id, timestamp, body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


async def check_in(
    client: httpx.AsyncClient, webhook_id: str = "msg_1", **changes: Any
) -> httpx.Response:
    body = json.dumps({**SNAPSHOT, **changes}).encode()
    return await client.post("/v1/inbound/checkins", content=body, headers=signed(body, webhook_id))


async def devices(client: httpx.AsyncClient) -> list[Device]:
    async with app_sessions(client).reading() as session:
        return list((await session.exec(select(Device))).all())


class TestSignatures:
    async def test_a_signed_snapshot_creates_the_device(self, client: httpx.AsyncClient) -> None:
        response = await check_in(client)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["duplicate"] is False
        assert result["compliance"] == {"state": "compliant", "reasons": []}
        device = (await client.get(f"/v1/devices/{result['device_id']}", headers=AGENT)).json()
        assert (device["owner"]["id"], device["ownership"], device["model"]) == (
            "alice",
            "personal",
            "Pixel 8",
        )
        assert device["last_check_in_at"] is not None

    @pytest.mark.parametrize(
        "tamper",
        ["other-secret", "changed-body", "old", "future", "no-signature", "garbage-signature"],
    )
    async def test_a_bad_signature_is_401_and_changes_nothing(
        self, client: httpx.AsyncClient, tamper: str
    ) -> None:
        body = json.dumps(SNAPSHOT).encode()
        headers = signed(body, "msg_bad")
        if tamper == "other-secret":
            headers = signed(body, "msg_bad", secret=OTHER_SECRET)
        elif tamper == "changed-body":
            body = json.dumps({**SNAPSHOT, "encrypted": False}).encode()
        elif tamper == "old":
            headers = signed(body, "msg_bad", at=datetime.now(UTC) - timedelta(minutes=6))
        elif tamper == "future":
            headers = signed(body, "msg_bad", at=datetime.now(UTC) + timedelta(minutes=6))
        elif tamper == "no-signature":
            del headers["webhook-signature"]
        else:
            headers["webhook-signature"] = "v1,not base64!!"
        response = await client.post("/v1/inbound/checkins", content=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert await devices(client) == []

    async def test_an_unsigned_bad_body_is_still_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/inbound/checkins", json={"nonsense": True}, headers={"webhook-id": "x"}
        )
        assert response.status_code == 401

    async def test_a_signed_bad_body_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await check_in(client, ownership="borrowed")
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["body.ownership"]


class TestWhatACheckInDoes:
    async def test_a_retry_of_the_same_webhook_changes_nothing_twice(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await check_in(client, "msg_same")
        again = await check_in(client, "msg_same", os_version="9")
        assert again.status_code == 200
        assert again.json() == {
            "device_id": first.json()["device_id"],
            "duplicate": True,
            "compliance": None,
            "discovered": [],
        }
        (device,) = await devices(client)
        assert device.os_version == "14"

    async def test_later_snapshots_update_the_device_and_its_compliance(
        self, client: httpx.AsyncClient
    ) -> None:
        await check_in(client, "msg_1")
        later = await check_in(client, "msg_2", os_version="12", encrypted=False)
        assert later.json()["compliance"] == {
            "state": "noncompliant",
            "reasons": ["os_below_minimum", "not_encrypted"],
        }
        (device,) = await devices(client)
        assert device.version == 2
        async with app_sessions(client).reading() as session:
            types = [e.type for e in (await session.exec(select(OutboxEvent))).all()]
        assert types.count("device.registered") == 1
        assert types.count("device.checked_in") == 2
        assert types.count("device.compliance_changed") == 1

    async def test_known_apps_become_discovered_use(self, client: httpx.AsyncClient) -> None:
        result = (await check_in(client)).json()
        assert result["discovered"] == ["whatsapp"]
        async with app_sessions(client).reading() as session:
            uses = (await session.exec(select(DiscoveredUse))).all()
        assert [(u.owner_id, u.technology) for u in uses] == [("alice", "whatsapp")]

    async def test_only_what_is_sent_is_stored(self, client: httpx.AsyncClient) -> None:
        await check_in(client)
        (device,) = await devices(client)
        assert device.apps == [
            {"identifier": "com.whatsapp", "name": "WhatsApp", "version": "2.24"},
            {"identifier": "com.example.unknown", "name": "Something", "version": None},
        ]
        assert (device.serial_number, device.imei) == (None, None)

    async def test_an_unknown_platform_is_a_clear_422(self, client: httpx.AsyncClient) -> None:
        response = await check_in(client, platform="symbian")
        assert response.status_code == 422
        assert "symbian" in response.json()["detail"]

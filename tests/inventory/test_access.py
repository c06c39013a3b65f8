"""The authorization matrix of the inventory service (see tests/support/access.py).

Requesters register and see their own devices and accounts; someone else's
answers 404 like a missing one. Agents see everyone's and decide accounts;
admins also keep the catalog. Integrations reach inventory only through the
signed check-in hook: every bearer token gets 401 there, and the test of that
row checks that a signed check-in is taken.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from deskside_inventory.app import create_app
from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.config import InventorySettings
from deskside_inventory.repository import TechnologyRepository
from tests.conftest import DatabaseUrlFor
from tests.support.access import CALLERS, Arranged, Row, check_matrix_covers, mismatches
from tests.support.apps import app_sessions, serving
from tests.support.tokens import TEST_JWT_SECRET

R = Row
# fmt: off
MATRIX = [
    # method and path                               own other agent admin integ anon
    R("GET /v1/technologies",                         200, 200, 200, 200, 200, 401),
    R("POST /v1/technologies",                        403, 403, 403, 201, 403, 401),
    R("GET /v1/technologies/{key}",                   200, 200, 200, 200, 200, 401),
    R("PATCH /v1/technologies/{key}",                 403, 403, 403, 200, 403, 401),
    R("POST /v1/devices",                             201, 201, 201, 201, 403, 401),
    R("GET /v1/devices",                              200, 200, 200, 200, 403, 401),
    R("GET /v1/devices/{device_id}",                  200, 404, 200, 200, 403, 401),
    R("PATCH /v1/devices/{device_id}",                200, 404, 200, 200, 403, 401),
    R("POST /v1/accounts",                            201, 201, 201, 201, 403, 401),
    R("GET /v1/accounts",                             200, 200, 200, 200, 403, 401),
    R("GET /v1/accounts/{account_id}",                200, 404, 200, 200, 403, 401),
    R("POST /v1/accounts/{account_id}/approve",       403, 404, 200, 200, 403, 401),
    R("POST /v1/accounts/{account_id}/reject",        403, 404, 200, 200, 403, 401),
    R("POST /v1/accounts/{account_id}/revoke",        403, 404, 200, 200, 403, 401),
    R("POST /v1/inbound/checkins",                    401, 401, 401, 401, 401, 401),
    R("GET /v1/reports/adoption",                     403, 403, 200, 200, 403, 401),
    R("GET /v1/audit/inventory",                      403, 403, 403, 200, 403, 401),
]
# fmt: on


@pytest.fixture
def backend() -> str:
    # SQLite here; the attack battery runs this matrix on PostgreSQL
    # (tests/hard/test_function_access.py), so each database sees it once.
    return "sqlite"


CHECKIN_SECRET = "whsec_" + base64.b64encode(b"device-management-secret-0123456").decode()
ALICE, AGENT, ADMIN = CALLERS["own"], CALLERS["agent"], CALLERS["admin"]
BODIES: dict[str, Any] = {
    "PATCH /v1/technologies/{key}": {"guide": "Sign in again after each update."},
    "POST /v1/devices": {"ownership": "personal", "technology": "ios", "model": "iPhone 15"},
    "PATCH /v1/devices/{device_id}": {"os_version": "18.1"},
    "POST /v1/accounts": {
        "technology": "dropbox",
        "identifier": "alice@example.com",
        "purpose": "Sharing slides with a customer",
        "data_classification": "confidential",
    },
    "POST /v1/accounts/{account_id}/reject": {"note": "Use OneDrive."},
}


@asynccontextmanager
async def inventory_with_catalog(
    database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Inventory with the starter catalog and a device-management integration's secret."""
    settings = InventorySettings(
        env="test",
        var_dir=tmp_path,
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
        checkin_secrets={"mdm": CHECKIN_SECRET},
        relay_enabled=False,
    )
    async with serving(create_app(settings)) as client:
        async with app_sessions(client).write_transaction() as session:
            await load_starter_catalog(TechnologyRepository(session))
        yield client


@pytest.fixture
async def client(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with inventory_with_catalog(await database_url_for("inventory"), tmp_path) as client:
        yield client


async def _made(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.is_success, response.text
    return response.json()


async def arrange(client: httpx.AsyncClient, row: Row) -> Arranged:
    body = BODIES.get(row.route)
    if row.path.startswith("/v1/devices/"):
        device = await _made(client, "/v1/devices", BODIES["POST /v1/devices"], ALICE)
        return Arranged(row.path.format(device_id=device["id"]), body, device["id"])
    if row.path.startswith("/v1/accounts/"):
        # Confidential data on Dropbox waits for an agent: `requested`.
        account = await _made(client, "/v1/accounts", BODIES["POST /v1/accounts"], ALICE)
        if row.path.endswith("/revoke"):
            await _made(client, f"/v1/accounts/{account['id']}/approve", None, AGENT)
        return Arranged(row.path.format(account_id=account["id"]), body, account["id"])
    if row.route == "POST /v1/technologies":
        key = f"app-{uuid.uuid4().hex[:8]}"
        new = {
            "key": key,
            "name": f"App {key}",
            "kind": "service",
            "category": "file-sharing",
            "support_tier": "best_effort",
        }
        return Arranged(row.path, new)
    if row.path == "/v1/technologies/{key}":
        return Arranged(row.path.format(key="dropbox"), body)
    if row.route == "POST /v1/inbound/checkins":
        return Arranged(row.path, _checkin())
    return Arranged(row.path, body)


def _checkin() -> dict[str, Any]:
    return {
        "external_id": f"mdm-{uuid.uuid4().hex[:8]}",
        "owner_email": "alice@example.com",
        "ownership": "personal",
        "platform": "android",
    }


async def test_every_route_is_in_the_matrix(tmp_path: Path) -> None:
    check_matrix_covers(create_app(InventorySettings(env="test", var_dir=tmp_path)), MATRIX)


@pytest.mark.parametrize("row", MATRIX, ids=[row.route for row in MATRIX])
async def test_each_caller_gets_the_status_of_its_cell(client: httpx.AsyncClient, row: Row) -> None:
    assert await mismatches(client, row, arrange) == {}
    if row.route == "POST /v1/inbound/checkins":
        # Refused to every token, open to the signature.
        body = json.dumps(_checkin())
        now = datetime.now(UTC)
        headers = {
            "webhook-id": "msg_access",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(CHECKIN_SECRET).sign("msg_access", now, body),
            "content-type": "application/json",
        }
        response = await client.post(row.path, content=body, headers=headers)
        assert response.status_code == 200, response.text

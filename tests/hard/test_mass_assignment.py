"""Mass assignment (OWASP API3): server-owned fields in a request body are refused.

Every create and update of every service (each row of the authorization
matrices that takes a JSON body) is sent, as a caller allowed to make it,
with each server-owned field added that its request schema does not declare.
Each must be a 422 naming the field, so nothing of it is ever stored. The
few owner fields a schema does declare (an agent registers a device for
someone, the desk opens a ticket for someone) are tried by a requester: they
must not make someone else the owner.

Then webhook secrets: shown once when made or rotated, and never again in
any answer or any log line.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from deskside_kit.logs import quiet_libraries
from tests.hard.test_function_access import _ticket_arrange
from tests.inventory import test_access as inventory_access
from tests.notify import test_access as notify_access
from tests.support.access import CALLERS, Arrange, Row
from tests.tickets import test_access as tickets_access

pytestmark = pytest.mark.hard


@pytest.fixture
def backend() -> str:
    # Who may reach what does not depend on the database; PostgreSQL is production's.
    # (Each service's own access matrix runs on both, in tests/<service>/test_access.py.)
    return "postgresql"


SERVER_OWNED: dict[str, Any] = {
    "id": "evil_01",
    "reference": "SD-000666",
    "status": "closed",
    "version": 99,
    "owner": {"id": "mallory", "email": "mallory@example.com"},
    "owner_id": "mallory",
    "requester_id": "mallory",
    "created_by": "mallory",
    "roles": ["admin"],
    "decided_by": "mallory",
    "decided_at": "2026-01-01T00:00:00Z",
    "sla": {"breached": False, "resolution_due_at": "2099-01-01T00:00:00Z"},
    "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "secret": "whsec_bWFsbG9yeS1rbm93cy10aGUtc2VjcmV0LTAxMjM=",
    "failure_count": 0,
    "compliance": {"state": "compliant", "reasons": []},
    "people_affected": 0,
    "tier_changed": True,
}


def _declared(document: dict[str, Any], method: str, path: str) -> set[str] | None:
    """The properties an operation's JSON body declares, or None if it takes no JSON object."""
    operation = document["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schemas = document["components"]["schemas"]

    def properties(schema: dict[str, Any]) -> set[str]:
        if "$ref" in schema:
            return properties(schemas[schema["$ref"].split("/")[-1]])
        found = set(schema.get("properties", {}))
        for option in schema.get("anyOf", []) + schema.get("oneOf", []):
            found |= properties(option)
        return found

    return properties(content["application/json"]["schema"])


async def _inject_everywhere(
    client: httpx.AsyncClient, matrix: list[Row], arrange: Arrange, caller: str
) -> tuple[int, int, list[str]]:
    """(operations tried, injections sent, injections not refused)."""
    document = (await client.get("/openapi.json")).json()
    operations = injections = 0
    accepted: list[str] = []
    for row in matrix:
        if row.method not in ("POST", "PUT", "PATCH") or row.expected(caller) >= 400:
            continue
        declared = _declared(document, row.method, row.path)
        if declared is None:
            continue
        operations += 1
        for field, value in SERVER_OWNED.items():
            if field in declared:
                continue
            call = await arrange(client, row)
            body = {**(call.body or {}), field: value}
            response = await client.request(
                row.method, call.path, json=body, headers=CALLERS[caller]
            )
            injections += 1
            if response.status_code != 422 or field not in response.text:
                accepted.append(f"{row.route} +{field}: {response.status_code}")
    return operations, injections, accepted


async def test_server_owned_fields_are_refused_on_every_create_and_update(
    client: httpx.AsyncClient, inventory: httpx.AsyncClient, notify: httpx.AsyncClient
) -> None:
    runs = [
        (client, tickets_access.MATRIX, _ticket_arrange, "admin"),
        (inventory, inventory_access.MATRIX, inventory_access.arrange, "admin"),
        (notify, notify_access.MATRIX, notify_access.arrange, "admin"),
    ]
    operations = injections = 0
    accepted: list[str] = []
    for service_client, matrix, arrange, caller in runs:
        ran, sent, through = await _inject_everywhere(service_client, matrix, arrange, caller)  # type: ignore[arg-type]
        operations, injections = operations + ran, injections + sent
        accepted += through

    print(
        f"\nmass assignment: {injections} server-owned fields injected into {operations} "
        f"creates and updates, {injections - len(accepted)} refused with 422, "
        f"{len(accepted)} persisted"
    )
    assert accepted == []
    assert operations >= 30


async def test_a_requester_cannot_make_someone_else_the_owner(
    client: httpx.AsyncClient, inventory: httpx.AsyncClient
) -> None:
    alice = CALLERS["own"]
    device = await inventory.post(
        "/v1/devices",
        json={
            **inventory_access.BODIES["POST /v1/devices"],
            "owner": {"id": "bob", "email": "bob@example.com"},
        },
        headers=alice,
    )
    ticket = await client.post(
        "/v1/tickets",
        json={"title": "Printer", "requester": {"id": "bob", "email": "bob@example.com"}},
        headers=alice,
    )
    for answer, owner_of in ((device, "owner"), (ticket, "requester")):
        assert answer.status_code in (201, 403, 422), answer.text
        if answer.status_code == 201:
            assert answer.json()[owner_of]["id"] == "alice"
    assert (await inventory.get("/v1/devices", headers=CALLERS["other"])).json()["items"] == []
    assert (await client.get("/v1/tickets", headers=CALLERS["other"])).json()["items"] == []


async def test_a_webhook_secret_is_shown_once_and_never_again(
    notify: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # As a part configured with DESKSIDE_LOG_LEVEL=DEBUG logs.
    quiet_libraries()
    caplog.set_level(logging.DEBUG)
    admin = CALLERS["admin"]
    made = await notify.post("/v1/webhooks", json=notify_access.HOOK, headers=admin)
    assert made.status_code == 201
    webhook = made.json()
    rotated = await notify.post(f"/v1/webhooks/{webhook['id']}/rotate-secret", headers=admin)
    secrets = [webhook["secret"], rotated.json()["secret"]]
    assert all(secret.startswith("whsec_") for secret in secrets)

    base = f"/v1/webhooks/{webhook['id']}"
    sent = await notify.post(f"{base}/test", headers=admin)
    answers = [
        await notify.get("/v1/webhooks", headers=admin),
        await notify.get(base, headers=admin),
        await notify.patch(base, json={"description": "CRM"}, headers=admin),
        sent,
        await notify.get(f"{base}/deliveries", headers=admin),
        await notify.get(f"/v1/deliveries/{sent.json()['id']}", headers=admin),
        await notify.get("/openapi.json"),
    ]
    leaks = [
        f"{answer.request.method} {answer.request.url.path}"
        for answer in answers
        for secret in secrets
        if secret in answer.text or secret.removeprefix("whsec_") in answer.text
    ]
    logged = [
        record.getMessage()
        for record in caplog.records
        if any(secret.removeprefix("whsec_") in record.getMessage() for secret in secrets)
    ]
    print(
        f"\nwebhook secrets: {len(answers)} answers and {len(caplog.records)} log lines after "
        f"creation, {len(leaks) + len(logged)} showing a secret"
    )
    assert caplog.records  # the lines were there to look at
    assert leaks == []
    assert logged == []

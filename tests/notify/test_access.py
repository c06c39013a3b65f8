"""The authorization matrix of the notify service (see tests/support/access.py).

Webhook subscriptions and their deliveries belong to admins and to the
integration that made them: here an admin made them, so the integration
(`integ`) finds them missing. Emails belong to their recipient: Alice's is
hers and the desk's to read, and missing to Bob and to the integration, whose
own list is empty. Templates are the admins'.
`/internal/events` takes the service credential only; every token is 403.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from deskside_notify.app import create_app
from deskside_notify.config import NotifySettings
from deskside_notify.models import Notification
from tests.notify.conftest import SERVICE
from tests.notify.factories import batch, ticket_event
from tests.support.access import CALLERS, Arranged, Row, check_matrix_covers, mismatches
from tests.support.apps import app_sessions

R = Row
WEBHOOK = "/v1/webhooks/{webhook_id}"
# fmt: off
MATRIX = [
    # method and path                                  own other agent admin integ anon
    R("POST /internal/events",                           403, 403, 403, 403, 403, 401),
    R("GET /v1/webhooks",                                403, 403, 403, 200, 200, 401),
    R("POST /v1/webhooks",                               403, 403, 403, 201, 201, 401),
    R(f"GET {WEBHOOK}",                                  403, 403, 403, 200, 404, 401),
    R(f"PATCH {WEBHOOK}",                                403, 403, 403, 200, 404, 401),
    R(f"DELETE {WEBHOOK}",                               403, 403, 403, 204, 404, 401),
    R(f"POST {WEBHOOK}/rotate-secret",                   403, 403, 403, 200, 404, 401),
    R(f"POST {WEBHOOK}/test",                            403, 403, 403, 202, 404, 401),
    R(f"GET {WEBHOOK}/deliveries",                       403, 403, 403, 200, 404, 401),
    R(f"POST {WEBHOOK}/recover",                         403, 403, 403, 202, 404, 401),
    R("GET /v1/deliveries/{delivery_id}",                403, 403, 403, 200, 404, 401),
    R("POST /v1/deliveries/{delivery_id}/retry",         403, 403, 403, 202, 404, 401),
    R("GET /v1/notifications",                           200, 200, 200, 200, 200, 401),
    R("GET /v1/notifications/{notification_id}",         200, 404, 200, 200, 404, 401),
    R("GET /v1/templates",                               403, 403, 403, 200, 403, 401),
    R("GET /v1/templates/{event_type}",                  403, 403, 403, 200, 403, 401),
    R("PUT /v1/templates/{event_type}",                  403, 403, 403, 200, 403, 401),
    R("DELETE /v1/templates/{event_type}",               403, 403, 403, 204, 403, 401),
    R("POST /v1/templates/{event_type}/preview",         403, 403, 403, 200, 403, 401),
    R("GET /v1/preferences/me",                          200, 200, 200, 200, 403, 401),
    R("PUT /v1/preferences/me",                          200, 200, 200, 200, 403, 401),
    R("GET /v1/audit/notify",                            403, 403, 403, 200, 403, 401),
]
# fmt: on


@pytest.fixture
def backend() -> str:
    # SQLite here; the attack battery runs this matrix on PostgreSQL
    # (tests/hard/test_function_access.py), so each database sees it once.
    return "sqlite"


ADMIN = CALLERS["admin"]
HOOK = {"url": "https://hooks.example.com/deskside", "event_types": ["ticket.*"]}
BODIES: dict[str, Any] = {
    "POST /v1/webhooks": HOOK,
    f"PATCH {WEBHOOK}": {"description": "The CRM"},
    f"POST {WEBHOOK}/recover": {"since": "2026-01-01T00:00:00Z"},
    "PUT /v1/templates/{event_type}": {
        "subject": "We have your request {{ ticket.reference }}",
        "text": "Thanks.",
        "html": "<p>Thanks.</p>",
    },
    "PUT /v1/preferences/me": {"muted_event_types": ["ticket.resolved"]},
}


async def arrange(client: httpx.AsyncClient, row: Row) -> Arranged:
    body = BODIES.get(row.route)
    if row.route == "POST /internal/events":
        return Arranged(row.path, batch(ticket_event()))
    if row.path.startswith(WEBHOOK) or row.path.startswith("/v1/deliveries/"):
        made = await client.post("/v1/webhooks", json=HOOK, headers=ADMIN)
        webhook_id = made.json()["id"]
        if row.path.startswith("/v1/deliveries/"):
            sent = await client.post(f"/v1/webhooks/{webhook_id}/test", headers=ADMIN)
            delivery_id = sent.json()["id"]
            return Arranged(row.path.format(delivery_id=delivery_id), body, delivery_id)
        return Arranged(row.path.format(webhook_id=webhook_id), body, webhook_id)
    if row.path == "/v1/notifications/{notification_id}":
        # A ticket of Alice's was opened: notify writes her acknowledgement.
        stored = await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)
        assert stored.status_code == 200, stored.text
        async with app_sessions(client).reading() as session:
            mails = (await session.exec(select(Notification))).all()
        (mail,) = [m for m in mails if m.recipient_email == "alice@example.com"][-1:]
        return Arranged(row.path.format(notification_id=mail.id), body, mail.id)
    if "{event_type}" in row.path:
        return Arranged(row.path.format(event_type="ticket.created"), body)
    return Arranged(row.path, body)


async def test_every_route_is_in_the_matrix(settings_for: Any) -> None:
    settings: NotifySettings = settings_for()
    check_matrix_covers(create_app(settings), MATRIX)


@pytest.mark.parametrize("row", MATRIX, ids=[row.route for row in MATRIX])
async def test_each_caller_gets_the_status_of_its_cell(client: httpx.AsyncClient, row: Row) -> None:
    assert await mismatches(client, row, arrange) == {}
    if row.route == "POST /internal/events":
        # Refused to every token, open to the service credential.
        response = await client.post(row.path, json=batch(ticket_event()), headers=SERVICE)
        assert response.status_code == 200, response.text

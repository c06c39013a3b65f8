"""Inbound signatures: a request that is not exactly what the integration signed changes nothing.

Mail and alerts (tickets) and device check-ins (inventory) are each sent
forged in every way below, then a genuine delivery is replayed. "Nothing"
is measured, not assumed: the row count of every table in the service's
database (but the audit trail, which records each refusal) is the same before
and after.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import inspect, text
from standardwebhooks.webhooks import Webhook

from tests.inventory.test_access import CHECKIN_SECRET
from tests.inventory.test_checkins import SNAPSHOT
from tests.support.apps import app_sessions
from tests.tickets.conftest import MAILER_SECRET, MONITOR_SECRET

pytestmark = pytest.mark.hard

STRANGER = "whsec_" + base64.b64encode(b"a-secret-no-integration-has-0123").decode()

MAIL = (
    b"From: Carol Cole <carol@example.com>\r\nTo: help@desk.example.com\r\n"
    b"Subject: VPN drops\r\nMessage-ID: <vpn-1@mail.example.com>\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nIt disconnects every hour.\r\n"
)
ALERT = json.dumps({"fingerprint": "disk-full-42", "title": "Disk full on the file share"}).encode()
CHECKIN = json.dumps({**SNAPSHOT, "apps": []}).encode()


def _signed(
    body: bytes, webhook_id: str, secret: str, *, at: datetime | None = None
) -> dict[str, str]:
    timestamp = at or datetime.now(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body.decode()),
    }


Forgery = Callable[[bytes, str], tuple[bytes, dict[str, str]]]


def forgeries() -> dict[str, Forgery]:
    """Each takes the genuine body and secret; returns what the attacker sends."""
    now = datetime.now(UTC)

    def without(header: str) -> Forgery:
        def forge(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
            headers = _signed(body, "wh_forged", secret)
            del headers[header]
            return body, headers

        return forge

    return {
        "wrong secret": lambda body, _: (body, _signed(body, "wh_forged", STRANGER)),
        "tampered body": lambda body, secret: (
            body.replace(b"a", b"4", 1),
            _signed(body, "wh_forged", secret),
        ),
        "timestamp 6 min old": lambda body, secret: (
            body,
            _signed(body, "wh_forged", secret, at=now - timedelta(minutes=6)),
        ),
        "timestamp 6 min ahead": lambda body, secret: (
            body,
            _signed(body, "wh_forged", secret, at=now + timedelta(minutes=6)),
        ),
        "signature of another webhook-id": lambda body, secret: (
            body,
            {**_signed(body, "wh_original", secret), "webhook-id": "wh_forged"},
        ),
        "timestamp moved after signing": lambda body, secret: (
            body,
            {
                **_signed(body, "wh_forged", secret, at=now - timedelta(minutes=4)),
                "webhook-timestamp": str(int(now.timestamp())),
            },
        ),
        "no signature": without("webhook-signature"),
        "no webhook-id": without("webhook-id"),
        "no timestamp": without("webhook-timestamp"),
        "unknown signature version": lambda body, secret: (
            body,
            {
                **_signed(body, "wh_forged", secret),
                "webhook-signature": "v9,"
                + _signed(body, "wh_forged", secret)["webhook-signature"][3:],
            },
        ),
    }


async def _row_counts(client: httpx.AsyncClient) -> dict[str, int]:
    async with app_sessions(client).reading() as session:
        connection = await session.connection()
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        counts = {}
        for name in names:
            # The audit trail records each refusal: that is its job, not a side effect.
            if name not in ("alembic_version", "audit_records"):
                query = text(f'SELECT count(*) FROM "{name}"')  # noqa: S608  (names from the schema)
                counts[name] = (await connection.execute(query)).scalar_one()
        return counts


async def _battery(
    client: httpx.AsyncClient, path: str, body: bytes, secret: str, content_type: str
) -> tuple[int, int]:
    """Forged requests, then replays of a genuine one; returns (requests sent, side effects)."""
    sent = changed = 0
    for name, forge in forgeries().items():
        before = await _row_counts(client)
        forged_body, headers = forge(body, secret)
        response = await client.post(
            path, content=forged_body, headers={**headers, "content-type": content_type}
        )
        sent += 1
        assert response.status_code in (400, 401), f"{name}: {response.status_code}"
        assert response.headers["content-type"] == "application/problem+json"
        changed += int(await _row_counts(client) != before)

    genuine = {**_signed(body, "wh_genuine", secret), "content-type": content_type}
    before_genuine = await _row_counts(client)
    first = await client.post(path, content=body, headers=genuine)
    assert first.status_code < 300, first.text
    after_first = await _row_counts(client)
    assert after_first != before_genuine  # the measure sees a real delivery
    for _ in range(3):
        replay = await client.post(path, content=body, headers=genuine)
        sent += 1
        assert replay.status_code < 300
        assert replay.json()["duplicate"] is True
        changed += int(await _row_counts(client) != after_first)
    return sent, changed


async def test_forged_and_replayed_deliveries_have_no_side_effects(
    client: httpx.AsyncClient, inventory: httpx.AsyncClient
) -> None:
    results = {
        "email": await _battery(client, "/v1/inbound/email", MAIL, MAILER_SECRET, "message/rfc822"),
        "alerts": await _battery(
            client, "/v1/inbound/alerts", ALERT, MONITOR_SECRET, "application/json"
        ),
        "check-ins": await _battery(
            inventory, "/v1/inbound/checkins", CHECKIN, CHECKIN_SECRET, "application/json"
        ),
    }
    sent = sum(count for count, _ in results.values())
    side_effects = sum(changed for _, changed in results.values())
    print(
        f"\ninbound signatures: {sent} forged or replayed deliveries, {side_effects} side effects"
    )
    assert side_effects == 0

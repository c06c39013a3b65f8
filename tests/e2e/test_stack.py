"""The whole stack as real processes over real HTTP, through the gateway."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from deskside_kit.devstack import Stack
from tests.support.tokens import bearer

PROBLEM = "application/problem+json"


async def test_the_thin_slice_through_the_gateway(stack: Stack, tmp_path: Path) -> None:
    alice = bearer("alice", "requester", email="alice@example.com")
    admin = bearer("root", "admin")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as gateway:
        ready = await gateway.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"tickets": "ok", "inventory": "ok", "notify": "ok"}

        created = await gateway.post(
            "/v1/tickets",
            json={"title": "Evernote lost my notes", "description": "On my Android phone"},
            headers={**alice, "X-Request-ID": "e2e-create-1"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["reference"] == "SD-000001"
        assert created.headers["x-request-id"] == "e2e-create-1"

        read = await gateway.get("/v1/tickets/SD-000001", headers=alice)
        assert read.status_code == 200
        assert read.json() == created.json()

        # Tickets asked inventory about the technology with the service credential:
        # it answered (an empty catalog knows no `ipad`), so nothing is left pending.
        enriched = await gateway.post(
            "/v1/tickets", json={"title": "iPad mail", "technology": "ipad"}, headers=alice
        )
        assert enriched.json()["enrichment"] == "unknown_technology"

        technologies = await gateway.get("/v1/technologies", headers=alice)
        webhooks = await gateway.get("/v1/webhooks", headers=admin)
        assert technologies.json() == webhooks.json() == {"items": [], "next_cursor": None}

        for method, path in [
            ("POST", "/v1/tickets"),
            ("GET", "/v1/tickets/SD-000001"),
            ("GET", "/v1/technologies"),
            ("GET", "/v1/webhooks"),
        ]:
            response = await gateway.request(method, path, json={"title": "x"})
            assert response.status_code == 401, (method, path)
            assert response.headers["content-type"] == PROBLEM

        document = (await gateway.get("/openapi.json")).json()
        assert {"/v1/tickets", "/v1/technologies", "/v1/webhooks"} <= set(document["paths"])

    # The request id reached the tickets service and its structured log.
    log_lines = (tmp_path / "logs" / "tickets.log").read_text().splitlines()
    entries = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert any(
        entry.get("request_id") == "e2e-create-1" and entry.get("status") == 201
        for entry in entries
    )

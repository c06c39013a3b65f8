"""Function-level access (OWASP API5): every route of every service, as every kind of caller.

The three services' authorization matrices (`tests/<service>/test_access.py`)
are run together here for one figure; each service's own test also fails
when a route has no row. Then `/internal/*` is tried through the gateway and
without the service credential: never reachable.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.hard import parts
from tests.inventory import test_access as inventory_access
from tests.notify import test_access as notify_access
from tests.notify.conftest import SERVICE_TOKEN as NOTIFY_SERVICE_TOKEN
from tests.notify.factories import batch, ticket_event
from tests.support.access import CALLERS, Arranged, Row, mismatches
from tests.support.apps import serving
from tests.support.servers import serving_over_http
from tests.tickets import test_access as tickets_access

pytestmark = pytest.mark.hard


@pytest.fixture
def backend() -> str:
    # Who may reach what does not depend on the database; PostgreSQL is production's.
    # (Each service's own access matrix runs on both, in tests/<service>/test_access.py.)
    return "postgresql"


async def _ticket_arrange(client: httpx.AsyncClient, row: Row) -> Arranged:
    path, body = await tickets_access.arrange(client, row)  # type: ignore[arg-type]
    ref = path.split("/")[3] if path.startswith("/v1/tickets/") else None
    return Arranged(path, body, ref)


async def test_every_route_as_every_caller_matches_the_matrix(
    client: httpx.AsyncClient, inventory: httpx.AsyncClient, notify: httpx.AsyncClient
) -> None:
    runs = [
        ("tickets", client, tickets_access.MATRIX, _ticket_arrange),
        ("inventory", inventory, inventory_access.MATRIX, inventory_access.arrange),
        ("notify", notify, notify_access.MATRIX, notify_access.arrange),
    ]
    routes = cells = 0
    wrong: dict[str, dict[str, str]] = {}
    for service, service_client, matrix, arrange in runs:
        for row in matrix:
            routes += 1
            cells += len(CALLERS)
            found = await mismatches(service_client, row, arrange)  # type: ignore[arg-type]
            if found:
                wrong[f"{service} {row.route}"] = found

    print(
        f"\nfunction-level access: {routes} routes x {len(CALLERS)} kinds of caller = "
        f"{cells} cells, {len(wrong)} mismatches"
    )
    assert wrong == {}


async def test_internal_routes_are_never_reachable_from_outside(
    notify: httpx.AsyncClient, tmp_path: Path
) -> None:
    attempts = {
        "no credential": {},
        "a wrong credential": {"X-Deskside-Service-Token": "guess-" + "0" * 30},
        "an admin token": CALLERS["admin"],
        "an integration token": CALLERS["integ"],
    }
    reached = [
        name
        for name, headers in attempts.items()
        if (
            await notify.post("/internal/events", json=batch(ticket_event()), headers=headers)
        ).status_code
        < 400
    ]

    # Through the gateway, even with the right credential: the path is not routed.
    transport = notify._transport
    assert isinstance(transport, httpx.ASGITransport)
    async with serving_over_http(transport.app, lifespan="off") as notify_url:
        gateway = parts.gateway(tmp_path, notify_url=notify_url)
        async with serving(gateway) as client:
            for path in ("/internal/events", "/v1/../internal/events", "/%69nternal/events"):
                response = await client.post(
                    path,
                    json=batch(ticket_event()),
                    headers={"X-Deskside-Service-Token": NOTIFY_SERVICE_TOKEN},
                )
                if response.status_code < 400:
                    reached.append(f"gateway {path}")

    print(f"\ninternal routes: {len(attempts) + 3} attempts from outside, {len(reached)} reached")
    assert reached == []

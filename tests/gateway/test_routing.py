"""The prefix table: which service answers which path."""

from __future__ import annotations

import pytest

from deskside_gateway.routing import ROUTES, route_for


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/tickets", "tickets"),
        ("/v1/tickets/SD-000001", "tickets"),
        ("/v1/tickets/SD-000001/comments", "tickets"),
        ("/v1/reports/tickets", "tickets"),
        ("/v1/reports/adoption", "inventory"),
        ("/v1/inbound/checkins", "inventory"),
        ("/v1/inbound/email", "tickets"),
        ("/v1/inbound/email/inb_1", "tickets"),
        ("/v1/inbound/alerts", "tickets"),
        ("/v1/technologies", "inventory"),
        ("/v1/audit/notify", "notify"),
        ("/v1/webhooks/wh_1/deliveries", "notify"),
    ],
)
def test_routed_paths_go_to_their_service(path: str, service: str) -> None:
    route = route_for(path)
    assert route is not None
    assert route[1] == service


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/healthz",
        "/docs",
        "/v1",
        "/v1/",
        "/v1/ticketsfoo",
        "/v1/reports",
        "/v1/reports/other",
        "/internal/events",
        "/tickets",
        "/V1/tickets",
    ],
)
def test_other_paths_are_not_forwarded(path: str) -> None:
    assert route_for(path) is None


def test_every_prefix_is_a_v1_path() -> None:
    assert all(prefix.startswith("/v1/") and not prefix.endswith("/") for prefix in ROUTES)
    assert set(ROUTES.values()) == {"tickets", "inventory", "notify"}

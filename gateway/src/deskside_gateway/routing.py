"""Which service answers which public path: the prefix table of ARCHITECTURE.md."""

from __future__ import annotations

ROUTES: dict[str, str] = {
    "/v1/tickets": "tickets",
    "/v1/agents": "tickets",
    "/v1/groups": "tickets",
    "/v1/sla-policies": "tickets",
    "/v1/reports/tickets": "tickets",
    "/v1/inbound/email": "tickets",
    "/v1/inbound/alerts": "tickets",
    "/v1/audit/tickets": "tickets",
    "/v1/technologies": "inventory",
    "/v1/devices": "inventory",
    "/v1/accounts": "inventory",
    "/v1/reports/adoption": "inventory",
    "/v1/inbound/checkins": "inventory",
    "/v1/audit/inventory": "inventory",
    "/v1/webhooks": "notify",
    "/v1/deliveries": "notify",
    "/v1/notifications": "notify",
    "/v1/preferences": "notify",
    "/v1/templates": "notify",
    "/v1/audit/notify": "notify",
}

# Longest first, so that a prefix nested in another would still win.
_BY_LENGTH = sorted(ROUTES.items(), key=lambda item: len(item[0]), reverse=True)


def route_for(path: str) -> tuple[str, str] | None:
    """(prefix, service) answering `path`, or None when the gateway answers it itself.

    Matching is by whole path segments: `/v1/tickets/SD-1` and `/v1/tickets`
    go to tickets, `/v1/ticketsfoo` goes nowhere. Anything outside the table,
    `/internal/*` included, is never forwarded.
    """
    for prefix, service in _BY_LENGTH:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return prefix, service
    return None

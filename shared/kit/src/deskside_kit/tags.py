"""The OpenAPI tags: one per resource, named and described once for every service.

A tag groups operations in `/docs` and becomes a module of a generated client
(`api/tickets/`, `api/devices/`), so the names are part of what front ends and
integrations see: every service uses these, never a string of its own, and the
gateway's merged document lists them in this order.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any


class Tag(StrEnum):
    TICKETS = "Tickets"
    COMMENTS = "Comments"
    INTERACTIONS = "Interactions"
    ESCALATIONS = "Escalations"
    SLA_POLICIES = "SLA policies"
    AGENTS = "Agents"
    GROUPS = "Groups"
    CATALOG = "Catalog"
    DEVICES = "Devices"
    ACCOUNTS = "Accounts"
    REPORTS = "Reports"
    WEBHOOKS = "Webhooks"
    NOTIFICATIONS = "Notifications"
    TEMPLATES = "Templates"
    PREFERENCES = "Preferences"
    INBOUND = "Inbound"
    AUDIT = "Audit"
    OPERATIONS = "Operations"
    INTERNAL = "Internal"


DESCRIPTIONS: dict[Tag, str] = {
    Tag.TICKETS: "Contacts with the help desk, by id (`tkt_…`) or reference (`SD-000042`): "
    "their lifecycle (assign, start, wait, resolve, close, reopen), watchers, links, "
    "merges, satisfaction and history.",
    Tag.COMMENTS: "The conversation on a ticket: public replies, and internal notes that "
    "requesters never see.",
    Tag.INTERACTIONS: "Help given on a ticket: phone calls, desk visits, remote sessions, advice.",
    Tag.ESCALATIONS: "A ticket sent up a support tier, or out to the vendor, with its evidence.",
    Tag.SLA_POLICIES: "Response and resolution targets per priority, with the business hours "
    "their clocks run in (admins).",
    Tag.AGENTS: "The desk's agents: support tier, groups and the technologies they are trained on.",
    Tag.GROUPS: "Teams of agents per support tier, with a shared mailbox.",
    Tag.CATALOG: "The consumer technologies people use for work (device platforms and "
    "services), with IT's ground rules: support tier, recommendation, guide, vendor support.",
    Tag.DEVICES: "Devices people use for work, personal or corporate, and their compliance.",
    Tag.ACCOUNTS: "Consumer-service accounts people declare they use for work, and the "
    "desk's decisions on them.",
    Tag.REPORTS: "Numbers for the desk's leads, as JSON or (`?format=csv`) as a flat table "
    "for a spreadsheet.",
    Tag.WEBHOOKS: "Event subscriptions, signed the Standard Webhooks way, and their deliveries.",
    Tag.NOTIFICATIONS: "The log of emails Deskside sent.",
    Tag.TEMPLATES: "The email sent for each event type (admins).",
    Tag.PREFERENCES: "The emails a person has switched off.",
    Tag.INBOUND: "What integrations send the desk (email, monitoring alerts, device "
    "check-ins), signed the Standard Webhooks way.",
    Tag.AUDIT: "Each service's audit trail: changes and refusals, newest first (admins).",
    Tag.OPERATIONS: "Liveness, readiness and Prometheus metrics.",
    Tag.INTERNAL: "Between Deskside's own services (a service credential); never public.",
}


def openapi_tags(used: Iterable[str]) -> list[dict[str, str]]:
    """The OpenAPI `tags` entries for the tags `used`, in the canonical order."""
    names = set(used)
    return [{"name": tag.value, "description": DESCRIPTIONS[tag]} for tag in Tag if tag in names]


def tag_order(name: str) -> int:
    """Where a tag named `name` sorts: the canonical order, unknown tags last."""
    return next((index for index, tag in enumerate(Tag) if tag == name), len(Tag))


def describe_tags(schema: dict[str, Any]) -> dict[str, Any]:
    """Give an OpenAPI document the `tags` entries of the tags its operations use."""
    schema["tags"] = openapi_tags(
        tag
        for path_item in schema.get("paths", {}).values()
        for operation in path_item.values()
        if isinstance(operation, dict)
        for tag in operation.get("tags", [])
    )
    return schema

"""Events shaped exactly as the producing services write them, built from their contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from deskside_contracts.events import Event
from deskside_contracts.tickets import (
    Channel,
    EnrichmentStatus,
    Level,
    Person,
    Priority,
    TicketRead,
    TicketStatus,
)
from deskside_kit.ids import new_id


def ticket(
    *,
    reference: str = "SD-000042",
    requester_email: str | None = "alice@example.com",
    requester_id: str = "alice",
    status: TicketStatus = TicketStatus.NEW,
    ticket_id: str | None = None,
) -> TicketRead:
    now = datetime.now(UTC)
    return TicketRead(
        id=ticket_id or new_id("tkt"),
        reference=reference,
        title="My iPad no longer syncs mail",
        description="Since the update this morning.",
        status=status,
        channel=Channel.WEB,
        impact=Level.MEDIUM,
        urgency=Level.HIGH,
        priority=Priority.P2,
        enrichment=EnrichmentStatus.NONE,
        work_stopped=False,
        requester=Person(id=requester_id, email=requester_email, name="Alice Ames"),
        created_by="alice",
        tier=1,
        version=1,
        created_at=now - timedelta(minutes=1),
        updated_at=now,
    )


def ticket_event(
    event_type: str = "ticket.created",
    *,
    read: TicketRead | None = None,
    subject: str | None = None,
    **extra: Any,
) -> Event:
    read = read or ticket()
    return Event(
        id=new_id("evt"),
        type=event_type,
        timestamp=datetime.now(UTC),
        source="tickets",
        subject=subject or read.id,
        data={
            "ticket": read.model_dump(mode="json"),
            "watchers": [],
            "assignee": None,
            "group": None,
            **extra,
        },
    )


def batch(*events: Event) -> dict[str, Any]:
    return {"events": [event.model_dump(mode="json") for event in events]}

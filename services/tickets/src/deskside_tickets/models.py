"""The tables of the tickets service, all in one module (SQLModel relationships
across modules cause import cycles)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from deskside_kit.database import UtcDateTime, partial_index, utc_now
from deskside_kit.idempotency import IdempotencyKey
from deskside_kit.ids import new_id
from deskside_kit.outbox import OutboxEvent

# The kit's tables live in this service's database too; importing them here
# puts them in the metadata the migrations describe.
__all__ = [
    "Agent",
    "AlertTicket",
    "Comment",
    "Escalation",
    "Evidence",
    "Group",
    "GroupMember",
    "IdempotencyKey",
    "InboundMessage",
    "Interaction",
    "OutboxEvent",
    "ReferenceCounter",
    "SlaPolicy",
    "Ticket",
    "TicketChange",
    "TicketLink",
    "Watcher",
]


def _timestamp(nullable: bool = False) -> Column[datetime]:
    return Column(UtcDateTime, nullable=nullable)


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_requester_id_id", "requester_id", "id"),
        Index("ix_tickets_created_at_id", "created_at", "id"),
        Index("ix_tickets_updated_at_id", "updated_at", "id"),
        Index("ix_tickets_priority_id", "priority", "id"),
        Index("ix_tickets_status", "status"),
        Index("ix_tickets_assignee_id", "assignee_id"),
        # Resolved tickets waiting to close (housekeeping), not every one ever resolved.
        partial_index("ix_tickets_awaiting_close", "resolved_at", where="status = 'resolved'"),
        # Tickets still waiting for inventory's technology snapshot (housekeeping).
        partial_index(
            "ix_tickets_enrichment_pending", "created_at", where="enrichment = 'pending'"
        ),
    )

    id: str = Field(default_factory=lambda: new_id("tkt"), primary_key=True, max_length=40)
    number: int = Field(unique=True, description="The sequential part of the reference.")
    reference: str = Field(unique=True, max_length=24)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="new", max_length=32)
    waiting_on: str | None = Field(default=None, max_length=16)
    channel: str = Field(default="web", max_length=16)
    impact: str = Field(default="medium", max_length=16)
    urgency: str = Field(default="medium", max_length=16)
    priority: str = Field(default="p3", max_length=4)
    priority_overridden: bool = Field(default=False)
    priority_reason: str | None = Field(default=None, max_length=1000)
    category: str | None = Field(default=None, max_length=100)
    technology_key: str | None = Field(default=None, max_length=64, index=True)
    technology_name: str | None = Field(default=None, max_length=200)
    technology_vendor: str | None = Field(default=None, max_length=200)
    technology_tier: str | None = Field(default=None, max_length=32)
    technology_guide: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    enrichment: str = Field(default="none", max_length=32)
    device_id: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    work_stopped: bool = Field(default=False)
    # Business minutes lost while work was stopped, fixed at resolution or closing
    # (sla.settle_minutes_lost); NULL while open. Reports sum it (migration 0009).
    minutes_lost: int | None = Field(default=None)
    requester_id: str = Field(max_length=255)
    requester_email: str | None = Field(default=None, max_length=320)
    requester_name: str | None = Field(default=None, max_length=255)
    created_by: str = Field(max_length=255)
    assignee_id: str | None = Field(default=None, max_length=255)
    group_id: str | None = Field(default=None, max_length=64, index=True)
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    first_response_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    resolved_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    closed_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    merged_into_id: str | None = Field(default=None, max_length=40)
    tier: int = Field(default=1, description="The support tier working it: 1 to 3.")
    # SLA clocks (see sla.py): what cannot be recomputed, plus the scanner's schedule.
    sla_policy_id: str | None = Field(default=None, max_length=40)
    sla_paused_seconds: float = Field(default=0.0)
    sla_paused_since: datetime | None = Field(default=None, sa_column=_timestamp(True))
    sla_first_response_seconds: float | None = Field(default=None)
    sla_first_response_due_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    sla_resolution_due_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    sla_first_response_warned: bool = Field(default=False)
    sla_resolution_warned: bool = Field(default=False)
    sla_first_response_breached: bool = Field(default=False)
    sla_resolution_breached: bool = Field(default=False)
    sla_next_check_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    # Title, description and public comments: what `q` searches (migrations 0006, 0010;
    # on PostgreSQL the generated column `search_vector` holds its tsvector).
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    satisfaction_rating: int | None = Field(default=None)
    satisfaction_comment: str | None = Field(default=None, max_length=2000)
    satisfaction_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Comment(SQLModel, table=True):
    __tablename__ = "ticket_comments"
    __table_args__ = (Index("ix_ticket_comments_ticket_id_id", "ticket_id", "id"),)

    id: str = Field(default_factory=lambda: new_id("cmt"), primary_key=True, max_length=40)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=40)
    author_id: str = Field(max_length=255)
    author_email: str | None = Field(default=None, max_length=320)
    author_name: str | None = Field(default=None, max_length=255)
    body: str = Field(sa_column=Column(Text, nullable=False))
    internal: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class TicketChange(SQLModel, table=True):
    """The history: one row per changed field (or per event without a field)."""

    __tablename__ = "ticket_changes"
    __table_args__ = (Index("ix_ticket_changes_ticket_id_id", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=40)
    at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    actor: str = Field(max_length=255)
    action: str = Field(max_length=32)
    field: str | None = Field(default=None, max_length=64)
    old: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    new: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Entries about internal notes: requesters never see them, not even that they exist.
    internal: bool = Field(default=False)


class Interaction(SQLModel, table=True):
    """Help the desk gave a person: a call, a visit, a remote session, advice."""

    __tablename__ = "ticket_interactions"
    __table_args__ = (Index("ix_ticket_interactions_ticket_id_id", "ticket_id", "id"),)

    id: str = Field(default_factory=lambda: new_id("int"), primary_key=True, max_length=40)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=40)
    kind: str = Field(max_length=32)
    agent_id: str = Field(max_length=255)
    scheduled_for: datetime | None = Field(default=None, sa_column=_timestamp(True))
    started_at: datetime | None = Field(default=None, sa_column=_timestamp(True))
    duration_minutes: int | None = Field(default=None)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    remote_tool: str | None = Field(default=None, max_length=100)
    remote_link: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Watcher(SQLModel, table=True):
    """Someone copied on a ticket: they see it and get its public updates."""

    __tablename__ = "ticket_watchers"
    __table_args__ = (Index("ix_ticket_watchers_person_id", "person_id"),)

    ticket_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=40)
    person_id: str = Field(primary_key=True, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=255)
    added_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class TicketLink(SQLModel, table=True):
    """Two related tickets; stored once, with the smaller id first."""

    __tablename__ = "ticket_links"

    first_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=40)
    second_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=40)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Escalation(SQLModel, table=True):
    """Up a tier inside the desk, or out to the vendor, with the evidence for it."""

    __tablename__ = "ticket_escalations"
    __table_args__ = (
        Index("ix_ticket_escalations_ticket_id_id", "ticket_id", "id"),
        Index("ix_ticket_escalations_vendor_status", "vendor", "status"),
    )

    id: str = Field(default_factory=lambda: new_id("esc"), primary_key=True, max_length=40)
    ticket_id: str = Field(foreign_key="tickets.id", max_length=40)
    kind: str = Field(max_length=16)  # "tier" or "vendor"
    to_tier: int | None = Field(default=None)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fault_domain: str | None = Field(default=None, max_length=32)
    vendor: str | None = Field(default=None, max_length=200)
    request: str | None = Field(default=None, max_length=32)
    vendor_case_ref: str | None = Field(default=None, max_length=200)
    status: str = Field(default="open", max_length=32)
    created_by: str = Field(max_length=255)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Evidence(SQLModel, table=True):
    __tablename__ = "escalation_evidence"
    __table_args__ = (Index("ix_escalation_evidence_escalation_id", "escalation_id", "id"),)

    id: str = Field(default_factory=lambda: new_id("evd"), primary_key=True, max_length=40)
    escalation_id: str = Field(foreign_key="ticket_escalations.id", max_length=40)
    kind: str = Field(max_length=16)
    title: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    content: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class SlaPolicy(SQLModel, table=True):
    """Targets per priority and the business hours the clocks count in."""

    __tablename__ = "sla_policies"

    id: str = Field(default_factory=lambda: new_id("sla"), primary_key=True, max_length=40)
    name: str = Field(max_length=100, unique=True)
    is_default: bool = Field(default=False)
    targets: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    business_hours: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    pause_on: list[str] = Field(sa_column=Column(JSON, nullable=False))
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Agent(SQLModel, table=True):
    """A person on the desk; `id` is their token `sub`."""

    __tablename__ = "agents"

    id: str = Field(primary_key=True, max_length=255)
    name: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=320)
    tier: int = Field(default=1)
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    id: str = Field(default_factory=lambda: new_id("grp"), primary_key=True, max_length=40)
    name: str = Field(max_length=100, unique=True)
    email: str | None = Field(default=None, max_length=320, description="A shared mailbox.")
    tier: int = Field(default=1, index=True)
    auto_assign: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_agent_id", "agent_id"),)

    group_id: str = Field(foreign_key="groups.id", primary_key=True, max_length=40)
    agent_id: str = Field(foreign_key="agents.id", primary_key=True, max_length=255)


class InboundMessage(SQLModel, table=True):
    """A signed inbound request (an email, a batch of alerts), kept raw until processed.

    The request stores it and answers at once; the background processor turns
    it into tickets and comments. A row that fails is kept with its error and
    tried again later, never dropped.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("integration", "webhook_id", name="uq_inbound_messages_webhook"),
        UniqueConstraint("message_id", name="uq_inbound_messages_message_id"),
        # The messages still to process, oldest first (the inbound processor's claim).
        partial_index(
            "ix_inbound_messages_pending", "received_at", "id", where="status = 'pending'"
        ),
        Index("ix_inbound_messages_ticket_id", "ticket_id"),
    )

    id: str = Field(default_factory=lambda: new_id("inb"), primary_key=True, max_length=40)
    kind: str = Field(max_length=16)  # "email" or "alert"
    integration: str = Field(max_length=64)
    webhook_id: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Emails only: the `Message-ID`, so the same mail sent twice is processed once.
    message_id: str | None = Field(default=None, max_length=998)
    status: str = Field(default="pending", max_length=16)  # "pending" or "processed"
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    next_attempt_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    outcome: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    # Emails only: the ticket the mail opened or commented on, so replies to it find it.
    ticket_id: str | None = Field(default=None, max_length=40)
    received_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    processed_at: datetime | None = Field(default=None, sa_column=_timestamp(True))


class AlertTicket(SQLModel, table=True):
    """The ticket an alert fingerprint opened: its repeats go there while it is open."""

    __tablename__ = "alert_tickets"
    __table_args__ = (Index("ix_alert_tickets_fingerprint", "integration", "fingerprint"),)

    ticket_id: str = Field(foreign_key="tickets.id", primary_key=True, max_length=40)
    integration: str = Field(max_length=64)
    fingerprint: str = Field(max_length=255)
    notifications: int = Field(default=1, description="Firing notifications received.")
    last_status: str = Field(default="firing", max_length=16)
    last_seen_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class ReferenceCounter(SQLModel, table=True):
    """Hands out reference numbers on SQLite.

    PostgreSQL uses the sequence `ticket_reference_seq` instead: a sequence
    never blocks concurrent creates, where this row would be a queue.
    """

    __tablename__ = "reference_counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0)

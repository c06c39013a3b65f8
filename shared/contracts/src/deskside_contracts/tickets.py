"""Contracts of the tickets service."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from deskside_contracts.common import RequestModel, ResponseModel, UtcDateTime
from deskside_contracts.inventory import SupportTier


class TicketStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_REQUESTER = "waiting_on_requester"
    WAITING_ON_VENDOR = "waiting_on_vendor"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Channel(StrEnum):
    """How the person reached the desk."""

    WEB = "web"
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WALK_IN = "walk_in"
    API = "api"
    ALERT = "alert"


class Level(StrEnum):
    """Impact (how many are affected, how badly) and urgency (how soon it hurts)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Priority(StrEnum):
    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"


class WaitingOn(StrEnum):
    REQUESTER = "requester"
    VENDOR = "vendor"


class EnrichmentStatus(StrEnum):
    """Whether the ticket holds its technology's catalog snapshot yet."""

    NONE = "none"  # the ticket names no technology
    PENDING = "pending"  # inventory did not answer in time: filled in later
    DONE = "done"
    UNKNOWN_TECHNOLOGY = "unknown_technology"  # inventory has no such key


Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Person(ResponseModel):
    """Someone a ticket is about or for, as their identity provider names them."""

    id: str
    email: str | None = None
    name: str | None = None


class PersonIn(RequestModel):
    """The person an agent opens a ticket for (a phone call, a walk-in)."""

    id: str = Field(min_length=1, max_length=255, description="Their token `sub`.")
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=255)


class TechnologySnapshot(ResponseModel):
    """What the catalog said of the ticket's technology when the ticket was enriched."""

    key: str
    name: str | None = None
    vendor: str | None = None
    support_tier: SupportTier | None = None
    guide: str | None = None


class TicketCreate(RequestModel):
    """A new contact with the help desk."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Dropbox stopped syncing on my iPad",
                    "description": "Since this morning the Dropbox app shows 'waiting to upload'.",
                    "technology": "dropbox",
                    "impact": "medium",
                    "urgency": "high",
                    "work_stopped": False,
                }
            ]
        }
    )

    title: Text200
    description: str = Field(default="", max_length=20_000)
    channel: Channel = Channel.WEB
    impact: Level = Level.MEDIUM
    urgency: Level = Level.MEDIUM
    category: str | None = Field(default=None, max_length=100)
    technology: Key | None = Field(default=None, description="Catalog key, e.g. `ipad`.")
    device_id: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    work_stopped: bool = Field(default=False, description="The person cannot work at all.")
    requester: PersonIn | None = Field(
        default=None, description="Agents only: whom the ticket is for. Default: the caller."
    )


class TicketUpdate(RequestModel):
    """A partial change (JSON merge patch semantics: absent fields stay as they are)."""

    title: Text200 | None = None
    description: str | None = Field(default=None, max_length=20_000)
    impact: Level | None = None
    urgency: Level | None = None
    category: str | None = Field(default=None, max_length=100)
    technology: Key | None = None
    work_stopped: bool | None = None
    priority: Priority | None = Field(
        default=None, description="Agents only: override the computed priority."
    )
    priority_reason: str | None = Field(default=None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _override_needs_reason(self) -> TicketUpdate:
        if self.priority is not None and not self.priority_reason:
            raise ValueError("priority_reason is required when overriding the priority")
        return self


class AssignRequest(RequestModel):
    assignee_id: str | None = Field(default=None, max_length=255, description="An agent's `sub`.")
    group_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _needs_someone(self) -> AssignRequest:
        if self.assignee_id is None and self.group_id is None:
            raise ValueError("give assignee_id, group_id or both")
        return self


class WaitRequest(RequestModel):
    on: WaitingOn
    reason: str | None = Field(default=None, max_length=2000)


class ResolveRequest(RequestModel):
    resolution: str = Field(min_length=1, max_length=20_000)


class ReopenRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=2000)


class CloseRequest(RequestModel):
    reason: str | None = Field(default=None, max_length=2000)


class TicketRead(ResponseModel):
    """A ticket as the API shows it."""

    id: str
    reference: str = Field(description="The human reference number, e.g. `SD-000042`.")
    title: str
    description: str
    status: TicketStatus
    waiting_on: WaitingOn | None = None
    channel: Channel
    impact: Level
    urgency: Level
    priority: Priority
    priority_overridden: bool = False
    priority_reason: str | None = None
    category: str | None = None
    technology: TechnologySnapshot | None = None
    enrichment: EnrichmentStatus
    device_id: str | None = None
    account_id: str | None = None
    work_stopped: bool
    requester: Person
    created_by: str = Field(description="Who opened it: the requester or an agent.")
    assignee_id: str | None = None
    group_id: str | None = None
    resolution: str | None = None
    first_response_at: UtcDateTime | None = None
    resolved_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None
    version: int = Field(description="Bumped on every change; sent as the `ETag`.")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CommentCreate(RequestModel):
    body: str = Field(min_length=1, max_length=50_000)
    internal: bool = Field(default=False, description="Agents only: a note requesters never see.")


class CommentRead(ResponseModel):
    id: str
    ticket_id: str
    author: Person
    body: str
    internal: bool
    created_at: UtcDateTime


class ChangeRead(ResponseModel):
    """One entry of a ticket's history: who changed what, when, from what to what."""

    id: int
    ticket_id: str
    at: UtcDateTime
    actor: str
    action: str = Field(description="`created`, `updated`, `assigned`, `commented`, …")
    field: str | None = None
    old: str | None = None
    new: str | None = None

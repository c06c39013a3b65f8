"""Contracts of the tickets service."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "ben", "email": "ben.kowalski@example.com", "name": "Ben Kowalski"}]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"urgency": "critical", "work_stopped": True},
                {
                    "priority": "p1",
                    "priority_reason": "The CFO presents from this iPad at 14:00.",
                },
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"assignee_id": "agnes", "group_id": "grp_01JD3X5R8W0000000000000000"},
                {"group_id": "grp_01JD3X5R8W0000000000000000"},
            ]
        }
    )

    assignee_id: str | None = Field(default=None, max_length=255, description="An agent's `sub`.")
    group_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _needs_someone(self) -> AssignRequest:
        if self.assignee_id is None and self.group_id is None:
            raise ValueError("give assignee_id, group_id or both")
        return self


class WaitRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "on": "requester",
                    "reason": "Asked Maria to restart the iPad and try the upload again.",
                },
                {"on": "vendor", "reason": "Dropbox support case 12345678 is open."},
            ]
        }
    )

    on: WaitingOn
    reason: str | None = Field(default=None, max_length=2000)


class ResolveRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"resolution": "Signed out of Dropbox and back in; the 214 pending files uploaded."}
            ]
        }
    )

    resolution: str = Field(min_length=1, max_length=20_000)


class ReopenRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "Syncing stopped again after the iPadOS update."}]
        }
    )

    reason: str = Field(min_length=1, max_length=2000)


class CloseRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Confirmed by phone: everything syncs."}, {}]}
    )

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
    tier: int = Field(description="The support tier working it: 1 to 3.")
    merged_into_id: str | None = None
    satisfaction: Satisfaction | None = None
    sla: TicketSla | None = Field(default=None, description="None when no SLA policy applies.")
    minutes_lost: int | None = Field(
        default=None,
        description="For `work_stopped` tickets: business minutes the person could not work.",
    )
    version: int = Field(description="Bumped on every change; sent as the `ETag`.")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CommentCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"body": "Could you send a screenshot of the Dropbox app's upload list?"},
                {
                    "body": "Like last week's Dropbox cases: token expired after a new password.",
                    "internal": True,
                },
            ]
        }
    )

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


# --- help given -----------------------------------------------------------------------


class InteractionKind(StrEnum):
    PHONE_CALL = "phone_call"
    DESK_VISIT = "desk_visit"
    REMOTE_SESSION = "remote_session"
    ADVICE = "advice"
    EMAIL = "email"
    CHAT = "chat"


class InteractionCreate(RequestModel):
    """Something the desk did for the person, done or booked."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "phone_call",
                    "started_at": "2026-11-23T09:40:00Z",
                    "duration_minutes": 12,
                    "notes": "Walked Maria through signing out and in again.",
                },
                {
                    "kind": "remote_session",
                    "scheduled_for": "2026-11-24T14:00:00Z",
                    "remote_tool": "Quick Assist",
                    "remote_link": "https://remoteassistance.support.services.microsoft.com/join/123456",
                },
            ]
        }
    )

    kind: InteractionKind
    scheduled_for: UtcDateTime | None = Field(
        default=None, description="For a booked visit or remote session."
    )
    started_at: UtcDateTime | None = None
    duration_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    notes: str | None = Field(default=None, max_length=20_000)
    remote_tool: str | None = Field(
        default=None, max_length=100, description="E.g. `Quick Assist`."
    )
    remote_link: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")

    @model_validator(mode="after")
    def _remote_fields_for_remote_sessions(self) -> InteractionCreate:
        if self.kind is not InteractionKind.REMOTE_SESSION and (
            self.remote_tool or self.remote_link
        ):
            raise ValueError("remote_tool and remote_link are for remote sessions only")
        return self


class InteractionUpdate(RequestModel):
    """Reschedule, or record what happened."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "started_at": "2026-11-24T14:05:00Z",
                    "duration_minutes": 25,
                    "notes": "Reinstalled the Dropbox app; uploads resume.",
                },
                {"scheduled_for": "2026-11-25T10:00:00Z"},
            ]
        }
    )

    scheduled_for: UtcDateTime | None = None
    started_at: UtcDateTime | None = None
    duration_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    notes: str | None = Field(default=None, max_length=20_000)
    remote_link: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")


class InteractionRead(ResponseModel):
    id: str
    ticket_id: str
    kind: InteractionKind
    agent_id: str
    scheduled_for: UtcDateTime | None = None
    started_at: UtcDateTime | None = None
    duration_minutes: int | None = None
    notes: str | None = None
    remote_tool: str | None = None
    remote_link: str | None = None
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class WatcherRead(ResponseModel):
    id: str
    email: str | None = None
    name: str | None = None
    added_by: str
    created_at: UtcDateTime


class LinkCreate(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ticket": "SD-000041"}]})

    ticket: str = Field(min_length=1, max_length=64, description="Id or reference to link to.")


class LinkedTicket(ResponseModel):
    id: str
    reference: str
    title: str
    status: TicketStatus


class MergeRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"into": "SD-000041"}]})

    into: str = Field(
        min_length=1, max_length=64, description="Id or reference of the ticket that survives."
    )


class SatisfactionCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"rating": 5, "comment": "Fixed in ten minutes, thank you!"},
                {"rating": 3},
            ]
        }
    )

    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class Satisfaction(ResponseModel):
    rating: int
    comment: str | None = None
    at: UtcDateTime


# --- escalation -------------------------------------------------------------------------

MAX_EVIDENCE_BYTES = 1024 * 1024


class FaultDomain(StrEnum):
    DEVICE = "device"
    APP = "app"
    NETWORK = "network"
    ACCOUNT = "account"
    VENDOR_CLOUD = "vendor_cloud"
    UNKNOWN = "unknown"


class EvidenceKind(StrEnum):
    LINK = "link"  # research: a knowledge-base article, a status page, a forum thread
    LOG = "log"  # diagnostic log text
    SCREENSHOT = "screenshot"  # a URL, or the image as base64 in `content`
    NOTE = "note"


class EvidenceIn(RequestModel):
    # Evidence is kept byte for byte: a log's whitespace may matter to whoever reads it.
    model_config = ConfigDict(str_strip_whitespace=False)

    kind: EvidenceKind
    title: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    content: str | None = Field(default=None, description="Log text, note, or base64 image.")

    @model_validator(mode="after")
    def _fits_its_kind(self) -> EvidenceIn:
        if self.kind is EvidenceKind.LINK and self.url is None:
            raise ValueError("a link needs its url")
        if self.kind in (EvidenceKind.LOG, EvidenceKind.NOTE) and not self.content:
            raise ValueError(f"a {self.kind.value} needs its content")
        if self.kind is EvidenceKind.SCREENSHOT and not (self.url or self.content):
            raise ValueError("a screenshot needs a url or its content")
        if self.content is not None and len(self.content.encode()) > MAX_EVIDENCE_BYTES:
            raise ValueError("content is over 1 MiB")
        return self


class EvidenceRead(ResponseModel):
    id: str
    kind: EvidenceKind
    title: str | None = None
    url: str | None = None
    content: str | None = None
    created_at: UtcDateTime


class TierEscalationCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "to_tier": 2,
                    "reason": "Sign-in works on the web, not in the app: a device specialist case.",
                    "fault_domain": "app",
                    "evidence": [
                        {
                            "kind": "log",
                            "title": "Dropbox app log",
                            "content": "09:41:02 upload failed: 401 invalid_access_token",
                        },
                        {
                            "kind": "link",
                            "title": "Dropbox status",
                            "url": "https://status.dropbox.com/",
                        },
                    ],
                }
            ]
        }
    )

    to_tier: int = Field(ge=2, le=3)
    reason: str = Field(min_length=1, max_length=20_000)
    fault_domain: FaultDomain
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class VendorRequest(StrEnum):
    SUPPORT = "support"
    BUG_REPORT = "bug_report"
    REPLACEMENT = "replacement"


class VendorEscalationCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vendor": "Dropbox",
                    "request": "support",
                    "vendor_case_ref": "12345678",
                    "reason": "Uploads from iPadOS 18 fail with 401 for three people since Monday.",
                    "evidence": [
                        {"kind": "note", "content": "Affects SD-000041, SD-000042 and SD-000045."}
                    ],
                }
            ]
        }
    )

    vendor: str = Field(min_length=1, max_length=200)
    request: VendorRequest
    vendor_case_ref: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=20_000)
    fault_domain: FaultDomain = FaultDomain.VENDOR_CLOUD
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class EscalationStatus(StrEnum):
    OPEN = "open"
    WAITING_ON_VENDOR = "waiting_on_vendor"
    ANSWERED = "answered"
    CLOSED = "closed"


class EscalationUpdate(RequestModel):
    """A vendor escalation's progress, as the vendor answers."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "answered",
                    "evidence": [
                        {
                            "kind": "note",
                            "content": "Dropbox: fixed in app version 380.2, out tomorrow.",
                        }
                    ],
                },
                {"status": "waiting_on_vendor", "vendor_case_ref": "12345678"},
            ]
        }
    )

    status: EscalationStatus | None = None
    vendor_case_ref: str | None = Field(default=None, max_length=200)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class EscalationRead(ResponseModel):
    id: str
    ticket_id: str
    kind: str = Field(description="`tier` or `vendor`.")
    to_tier: int | None = None
    reason: str | None = None
    fault_domain: FaultDomain | None = None
    vendor: str | None = None
    request: VendorRequest | None = None
    vendor_case_ref: str | None = None
    status: EscalationStatus
    evidence: list[EvidenceRead]
    created_by: str
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


# --- SLA ----------------------------------------------------------------------------------

HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class SlaTarget(RequestModel):
    first_response_minutes: int = Field(gt=0, le=60 * 24 * 365)
    resolution_minutes: int = Field(gt=0, le=60 * 24 * 365)


class BusinessHours(RequestModel):
    """When the clock runs. `always_open` makes it 24x7 and the rest is ignored."""

    timezone: str = Field(default="UTC", examples=["Europe/Berlin"])
    working_days: list[int] = Field(
        default=[0, 1, 2, 3, 4], description="Monday is 0, Sunday 6.", max_length=7
    )
    day_start: HHMM = "09:00"
    day_end: HHMM = "17:00"
    holidays: list[date] = Field(default_factory=list, max_length=1000)
    always_open: bool = False


class SlaPolicyCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Standard",
                    "is_default": True,
                    "targets": {
                        "p1": {"first_response_minutes": 15, "resolution_minutes": 240},
                        "p2": {"first_response_minutes": 60, "resolution_minutes": 480},
                        "p3": {"first_response_minutes": 240, "resolution_minutes": 1440},
                        "p4": {"first_response_minutes": 480, "resolution_minutes": 4800},
                    },
                    "business_hours": {
                        "timezone": "Europe/Berlin",
                        "working_days": [0, 1, 2, 3, 4],
                        "day_start": "08:00",
                        "day_end": "18:00",
                        "holidays": ["2026-12-24", "2026-12-25"],
                    },
                    "pause_on": ["requester", "vendor"],
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=100)
    is_default: bool = Field(
        default=False, description="The policy new tickets get; one at a time."
    )
    targets: dict[Priority, SlaTarget] = Field(
        description="Targets per priority; every priority needs one."
    )
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    pause_on: list[WaitingOn] = Field(
        default=[WaitingOn.REQUESTER, WaitingOn.VENDOR],
        description="Waiting statuses that stop the clock.",
    )

    @model_validator(mode="after")
    def _every_priority(self) -> SlaPolicyCreate:
        missing = sorted(p.value for p in Priority if p not in self.targets)
        if missing:
            raise ValueError(f"targets: missing for {', '.join(missing)}")
        return self


class SlaPolicyUpdate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"business_hours": {"timezone": "Europe/Berlin", "always_open": True}},
                {
                    "targets": {
                        "p1": {"first_response_minutes": 10, "resolution_minutes": 180},
                        "p2": {"first_response_minutes": 60, "resolution_minutes": 480},
                        "p3": {"first_response_minutes": 240, "resolution_minutes": 1440},
                        "p4": {"first_response_minutes": 480, "resolution_minutes": 4800},
                    }
                },
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=100)
    is_default: bool | None = None
    targets: dict[Priority, SlaTarget] | None = None
    business_hours: BusinessHours | None = None
    pause_on: list[WaitingOn] | None = None


class SlaPolicyRead(ResponseModel):
    id: str
    name: str
    is_default: bool
    targets: dict[Priority, SlaTarget]
    business_hours: BusinessHours
    pause_on: list[WaitingOn]
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class TicketSla(ResponseModel):
    """A ticket's two SLA clocks, as of the moment it was read."""

    policy_id: str
    first_response_due_at: UtcDateTime | None = Field(
        default=None, description="None while the clock is paused or once it has stopped."
    )
    resolution_due_at: UtcDateTime | None = None
    first_response_breached: bool
    resolution_breached: bool
    paused: bool
    paused_minutes: int = Field(description="Business minutes the clock has been paused.")
    first_response_remaining_minutes: int | None = Field(
        default=None, description="Business minutes left; negative once breached."
    )
    resolution_remaining_minutes: int | None = None


# --- the people: agents and groups ------------------------------------------------------------

Tier = Annotated[int, Field(ge=1, le=3)]


class AgentPut(RequestModel):
    """An agent's record; the id is their token `sub`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Agnes Mwangi",
                    "email": "agnes.mwangi@example.com",
                    "tier": 1,
                    "groups": ["grp_01JD3X5R8W0000000000000000"],
                    "skills": ["ios", "ipados", "icloud-drive", "whatsapp"],
                    "active": True,
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=255)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    tier: Tier = 1
    groups: list[str] = Field(default_factory=list, max_length=50, description="Group ids.")
    skills: list[Key] = Field(
        default_factory=list, max_length=200, description="Catalog keys they are trained on."
    )
    active: bool = True


class AgentRead(ResponseModel):
    id: str
    name: str
    email: str | None = None
    tier: int
    groups: list[str]
    skills: list[str]
    active: bool
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class GroupCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Device specialists",
                    "email": "device-specialists@example.com",
                    "tier": 2,
                    "auto_assign": False,
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(
        default=None,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="A shared mailbox: escalations and SLA alerts go there, not to each member.",
    )
    tier: Tier = 1
    auto_assign: bool = Field(
        default=False, description="Assign new tickets to the top suggested agent at once."
    )


class GroupUpdate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"auto_assign": True},
                {"name": "Service desk", "email": "servicedesk@example.com"},
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(
        default=None,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="A shared mailbox: escalations and SLA alerts go there, not to each member.",
    )
    tier: Tier | None = None
    auto_assign: bool | None = None


class GroupRead(ResponseModel):
    id: str
    name: str
    email: str | None = None
    tier: int
    auto_assign: bool
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class SuggestedAssignee(ResponseModel):
    agent: AgentRead
    trained: bool = Field(description="Trained on the ticket's technology.")
    open_tickets: int


class SkillGap(ResponseModel):
    technology: str
    open_tickets: int
    tickets: int


# --- reports ------------------------------------------------------------------------------


class HoursLost(ResponseModel):
    key: str = Field(description="The technology key, vendor name or support tier.")
    name: str | None = None
    hours_lost: float
    tickets: int


class ProductivityReport(ResponseModel):
    """Work time lost by people who could not work, from tickets opened in the range."""

    from_: UtcDateTime = Field(alias="from")
    to: UtcDateTime
    tickets: int
    hours_lost: float
    by_technology: list[HoursLost]
    by_vendor: list[HoursLost]
    by_support_tier: list[HoursLost]


class VendorBacklog(ResponseModel):
    vendor: str
    open_escalations: int
    oldest_age_hours: float


class SummaryReport(ResponseModel):
    """The desk at a glance, for tickets opened in the range."""

    from_: UtcDateTime = Field(alias="from")
    to: UtcDateTime
    tickets: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    by_technology: dict[str, int]
    sla_compliance_percent: float | None = Field(
        description="Tickets under a policy with neither clock breached; None without any."
    )
    median_first_response_minutes: float | None = None
    median_resolution_minutes: float | None = None
    open_vendor_escalations: list[VendorBacklog]


# --- inbound email and alerts ---------------------------------------------------------


class InboundEmail(RequestModel):
    """An email as a mail integration parsed it; the raw message (`message/rfc822`) also works."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "maria.keller@example.com",
                    "from_name": "Maria Keller",
                    "to": ["help@example.com"],
                    "subject": "Dropbox stopped syncing on my iPad",
                    "text": "Since this morning the Dropbox app shows 'waiting to upload'.",
                    "message_id": "<CAF=9x2d@mail.example.com>",
                }
            ]
        },
    )

    from_: str = Field(alias="from", max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str | None = Field(default=None, max_length=255)
    to: list[str] = Field(default_factory=list, max_length=100)
    subject: str = Field(default="", max_length=2000)
    text: str = Field(default="", max_length=1_000_000)
    html: str | None = Field(default=None, max_length=5_000_000)
    message_id: str = Field(min_length=1, max_length=998, description="The `Message-ID` header.")
    in_reply_to: str | None = Field(default=None, max_length=998)
    references: list[str] = Field(default_factory=list, max_length=200)
    auto_submitted: str | None = Field(
        default=None, max_length=100, description="The `Auto-Submitted` header, if any."
    )
    precedence: str | None = Field(
        default=None, max_length=100, description="The `Precedence` header, if any."
    )


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class SimpleAlert(RequestModel):
    """One alert from a monitoring tool without an Alertmanager-style webhook."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fingerprint": "vpn-gw-2-down",
                    "title": "VPN gateway 2 is not answering",
                    "description": "No reply to health checks for 5 minutes.",
                    "severity": "critical",
                    "status": "firing",
                }
            ]
        }
    )

    fingerprint: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=20_000)
    severity: str | None = Field(default=None, max_length=50)
    status: AlertStatus = AlertStatus.FIRING


class AlertmanagerAlert(BaseModel):
    """One alert of an Alertmanager webhook (version 4); fields it adds later are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: str | None = Field(default=None, alias="startsAt")
    ends_at: str | None = Field(default=None, alias="endsAt")
    fingerprint: str = Field(min_length=1, max_length=255)
    generator_url: str | None = Field(default=None, alias="generatorURL")


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook body, version 4."""

    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "version": "4",
                    "status": "firing",
                    "commonLabels": {"alertname": "MailQueueStuck"},
                    "externalURL": "https://alertmanager.example.com",
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {"alertname": "MailQueueStuck", "severity": "warning"},
                            "annotations": {"summary": "Outbound mail queue over 500"},
                            "startsAt": "2026-11-23T08:55:00Z",
                            "fingerprint": "3f1c9a7e2b4d6f80",
                        }
                    ],
                }
            ]
        },
    )

    version: str = Field(pattern=r"^4$")
    status: AlertStatus
    alerts: list[AlertmanagerAlert] = Field(min_length=1, max_length=1000)
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    external_url: str | None = Field(default=None, alias="externalURL")


class InboundStatus(StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"


class InboundAccepted(ResponseModel):
    """Stored; the tickets and comments follow shortly, in the background."""

    id: str
    status: InboundStatus
    duplicate: bool = Field(description="Seen before (same webhook-id or Message-ID).")


class InboundRead(ResponseModel):
    """An inbound message and what came of it."""

    id: str
    kind: str = Field(description="`email` or `alert`.")
    integration: str
    status: InboundStatus
    message_id: str | None = None
    attempts: int
    last_error: str | None = None
    next_attempt_at: UtcDateTime
    outcome: list[dict[str, str | int | None]] | None = Field(
        default=None,
        description="One entry per effect: `{action: created|commented|reopened|noted|ignored, "
        "ticket_id, reference, reason}`.",
    )
    ticket_id: str | None = None
    received_at: UtcDateTime
    processed_at: UtcDateTime | None = None


# TicketRead names models defined after it.
TicketRead.model_rebuild()

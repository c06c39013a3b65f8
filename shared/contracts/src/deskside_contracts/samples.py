"""One realistic example of every event Deskside sends, for everyone who shows one.

Notify renders its template previews against these (and refuses an edited
template that fails on them); the client's event catalog prints them in
`docs/integrations.md`. Keeping one table means a preview and the documented
payload never tell different stories.

The payloads are built from the contracts' own models (`TicketRead`,
`DeviceRead`, ...) in the shapes the producing services emit, so a field added
to a contract shows up here, and so does a field a producer would never send.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from deskside_contracts.events import Event
from deskside_contracts.inventory import (
    AccountRead,
    AccountStatus,
    Compliance,
    ComplianceReason,
    ComplianceState,
    DataClassification,
    DeviceOwner,
    DeviceRead,
    Ownership,
    SupportTier,
    TechnologyKind,
    TechnologyRead,
)
from deskside_contracts.notify import TEST_EVENT_TYPE, WebhookRead
from deskside_contracts.tickets import (
    Channel,
    CommentRead,
    EnrichmentStatus,
    EscalationRead,
    EscalationStatus,
    FaultDomain,
    InteractionKind,
    InteractionRead,
    Level,
    Person,
    Priority,
    TechnologySnapshot,
    TicketRead,
    TicketSla,
    TicketStatus,
)

_NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
_TICKET_ID = "tkt_01JDX8Z3Q4"
_DEVICE_ID = "dev_01JDX9K7M2"
_ACCOUNT_ID = "acc_01JDXA2B8C"
_ALICE = {"id": "alice", "email": "alice@example.com", "name": "Alice Ames"}
_AGNES = {"id": "agnes", "email": "agnes@example.com", "name": "Agnes Agent"}
_GUS = {"id": "gus", "email": "gus@example.com", "name": "Gus Greene"}
_SERVICE_DESK = {
    "id": "grp_servicedesk",
    "name": "Service desk",
    "email": "servicedesk@example.com",
    "tier": 1,
    "members": [_AGNES],
}
_TIER2 = {
    "id": "grp_tier2",
    "name": "Tier 2",
    "email": "tier2@example.com",
    "tier": 2,
    "members": [_GUS],
}


def _event_id(prefix: str, event_type: str) -> str:
    return prefix + event_type.split(".")[1].upper().replace("_", "")[:6]


# --- tickets ------------------------------------------------------------------------------------


def _ticket(
    status: TicketStatus, group: Mapping[str, Any], *, assigned: bool, **changes: Any
) -> dict[str, Any]:
    ticket = TicketRead(
        id=_TICKET_ID,
        reference="SD-000042",
        title="Dropbox stopped syncing on my iPad",
        description="Since this morning's update nothing syncs.",
        status=status,
        channel=Channel.WEB,
        impact=Level.MEDIUM,
        urgency=Level.HIGH,
        priority=Priority.P2,
        technology=TechnologySnapshot(
            key="dropbox",
            name="Dropbox",
            vendor="Dropbox",
            support_tier=SupportTier.BEST_EFFORT,
            guide="Sign out of Dropbox and back in; check that background refresh is on.",
        ),
        enrichment=EnrichmentStatus.DONE,
        work_stopped=True,
        requester=Person(**_ALICE),
        created_by="alice",
        assignee_id="agnes" if assigned else None,
        group_id=group["id"],
        tier=group["tier"],
        sla=TicketSla(
            policy_id="sla_standard",
            first_response_due_at=_NOW + timedelta(hours=4),
            resolution_due_at=_NOW + timedelta(days=2),
            first_response_breached=False,
            resolution_breached=False,
            paused=False,
            paused_minutes=0,
            first_response_remaining_minutes=240,
            resolution_remaining_minutes=960,
        ),
        version=3,
        created_at=_NOW,
        updated_at=_NOW,
    )
    return ticket.model_copy(update=changes).model_dump(mode="json")


def _ticket_event(
    event_type: str,
    status: TicketStatus = TicketStatus.IN_PROGRESS,
    *,
    group: Mapping[str, Any] = _SERVICE_DESK,
    assigned: bool = True,
    ticket_changes: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Event:
    # As the tickets service emits them: the people who work the ticket ride along, so
    # notify can mail them from the event alone. Even `ticket.created` has them, as
    # a new ticket is routed to tier 1's group, which auto-assigns, before it is announced.
    return Event(
        id=_event_id("evt_01JDX8Z3Q4", event_type),
        type=event_type,
        timestamp=_NOW,
        source="tickets",
        subject=_TICKET_ID,
        data={
            "ticket": _ticket(status, group, assigned=assigned, **(ticket_changes or {})),
            "watchers": [],
            "assignee": _AGNES if assigned else None,
            "group": group,
            **extra,
        },
    )


_COMMENT = CommentRead(
    id="cmt_01JDX8ZC4R",
    ticket_id=_TICKET_ID,
    author=Person(**_AGNES),
    body="Could you sign out of Dropbox and back in, and tell me what you see?",
    internal=False,
    created_at=_NOW,
)
_INTERACTION = InteractionRead(
    id="int_01JDX8ZF7T",
    ticket_id=_TICKET_ID,
    kind=InteractionKind.REMOTE_SESSION,
    agent_id="agnes",
    started_at=_NOW,
    duration_minutes=15,
    notes="Re-linked the Dropbox account over a remote session.",
    remote_tool="TeamViewer",
    version=1,
    created_at=_NOW,
    updated_at=_NOW,
)
# A tier escalation, the kind that hands the ticket to another group: the mail it
# causes goes to that group, and says so.
_ESCALATION = EscalationRead(
    id="esc_01JDX8ZK2W",
    ticket_id=_TICKET_ID,
    kind="tier",
    to_tier=2,
    reason="Sync fails for every user of the new iPadOS release.",
    fault_domain=FaultDomain.VENDOR_CLOUD,
    status=EscalationStatus.OPEN,
    evidence=[],
    created_by="agnes",
    version=1,
    created_at=_NOW,
    updated_at=_NOW,
)


# --- inventory ----------------------------------------------------------------------------------


def _inventory_event(event_type: str, subject: str, **data: Any) -> Event:
    return Event(
        id=_event_id("evt_01JDX9K7M2", event_type),
        type=event_type,
        timestamp=_NOW,
        source="inventory",
        subject=subject,
        data=data,
    )


_COMPLIANT = Compliance(state=ComplianceState.COMPLIANT, reasons=[])
_NONCOMPLIANT = Compliance(
    state=ComplianceState.NONCOMPLIANT,
    reasons=[ComplianceReason.OS_BELOW_MINIMUM, ComplianceReason.NO_PASSCODE],
)


def _device(*, compliant: bool) -> dict[str, Any]:
    # The non-compliant iPad is so for the reasons its compliance names.
    return DeviceRead(
        id=_DEVICE_ID,
        owner=DeviceOwner(**_ALICE),
        ownership=Ownership.PERSONAL,
        technology="ipados",
        model="iPad Air",
        name="Alice's iPad",
        os_version="17.5" if compliant else "16.1",
        encrypted=True,
        passcode_set=compliant,
        compliance=_COMPLIANT if compliant else _NONCOMPLIANT,
        enrolled_at=_NOW,
        last_check_in_at=_NOW,
        version=2,
        created_at=_NOW,
        updated_at=_NOW,
    ).model_dump(mode="json")


def _account(status: AccountStatus) -> dict[str, Any]:
    # Decided as the inventory service decides: a prohibited service is rejected by
    # policy, with the note policy writes; Dropbox is best effort, so an agent approves.
    rejected = status is AccountStatus.REJECTED
    decided_by = {AccountStatus.APPROVED: "agnes", AccountStatus.REJECTED: "policy"}
    return AccountRead(
        id=_ACCOUNT_ID,
        owner=DeviceOwner(**_ALICE),
        technology="evernote" if rejected else "dropbox",
        identifier="alice@example.com",
        purpose="Sharing slides with customers",
        data_classification=DataClassification.CONFIDENTIAL,
        status=status,
        decided_by=decided_by.get(status),
        decision_note="Evernote is prohibited for work. Use onenote instead." if rejected else None,
        recommended_alternative="onenote" if rejected else None,
        version=1,
        created_at=_NOW,
        updated_at=_NOW,
    ).model_dump(mode="json")


_ONENOTE = TechnologyRead(
    key="onenote",
    name="OneNote",
    kind=TechnologyKind.SERVICE,
    category="notes",
    vendor="Microsoft",
    support_tier=SupportTier.SUPPORTED,
    recommended=True,
    guide="Sign in with your work account; notebooks sync to the company tenant.",
    app_identifiers=["com.microsoft.office.onenote"],
    version=1,
    created_at=_NOW,
    updated_at=_NOW,
).model_dump(mode="json")
# A downgrade, the change people need to hear about: what to use instead, and how to move.
_EVERNOTE_UNSUPPORTED = TechnologyRead(
    key="evernote",
    name="Evernote",
    kind=TechnologyKind.SERVICE,
    category="notes",
    vendor="Evernote",
    support_tier=SupportTier.UNSUPPORTED,
    recommended=False,
    recommended_alternative="onenote",
    guide="Export your notebooks (File > Export) and import them into OneNote.",
    app_identifiers=["com.evernote", "com.evernote.iPhone.Evernote"],
    version=2,
    created_at=_NOW,
    updated_at=_NOW,
).model_dump(mode="json")


# --- notify -------------------------------------------------------------------------------------

_WEBHOOK_ID = "whk_01JDXB3M5N"
_DISABLED_WEBHOOK = WebhookRead(
    id=_WEBHOOK_ID,
    url="https://crm.example.com/deskside",
    description="CRM sync",
    event_types=["ticket.*"],
    enabled=False,
    disabled_reason="The endpoint answered 410 Gone.",
    disabled_at=_NOW,
    consecutive_failures=0,
    version=2,
    created_at=_NOW,
    updated_at=_NOW,
).model_dump(mode="json")


SAMPLE_EVENTS: Mapping[str, Event] = {
    "ticket.created": _ticket_event("ticket.created", TicketStatus.NEW),
    "ticket.updated": _ticket_event(
        "ticket.updated",
        ticket_changes={"urgency": Level.HIGH},
        changes={"urgency": {"old": "medium", "new": "high"}},
    ),
    "ticket.assigned": _ticket_event("ticket.assigned"),
    "ticket.commented": _ticket_event("ticket.commented", comment=_COMMENT.model_dump(mode="json")),
    # The next tier's group picks an escalated ticket up; its assignee lets go.
    "ticket.escalated": _ticket_event(
        "ticket.escalated",
        group=_TIER2,
        assigned=False,
        escalation=_ESCALATION.model_dump(mode="json"),
    ),
    "ticket.interaction_logged": _ticket_event(
        "ticket.interaction_logged", interaction=_INTERACTION.model_dump(mode="json")
    ),
    "ticket.resolved": _ticket_event(
        "ticket.resolved",
        TicketStatus.RESOLVED,
        ticket_changes={"resolution": "Re-linked the account; syncing again."},
    ),
    "ticket.closed": _ticket_event("ticket.closed", TicketStatus.CLOSED),
    "ticket.reopened": _ticket_event(
        "ticket.reopened", reason="It stopped syncing again after a day."
    ),
    "ticket.sla_warning": _ticket_event("ticket.sla_warning", clock="first_response"),
    "ticket.sla_breached": _ticket_event("ticket.sla_breached", clock="resolution"),
    "device.registered": _inventory_event(
        "device.registered", _DEVICE_ID, device=_device(compliant=True)
    ),
    "device.checked_in": _inventory_event(
        "device.checked_in",
        _DEVICE_ID,
        device=_device(compliant=True),
        discovered=["dropbox"],
        integration="intune",
    ),
    "device.compliance_changed": _inventory_event(
        "device.compliance_changed",
        _DEVICE_ID,
        old=_COMPLIANT.model_dump(mode="json"),
        new=_NONCOMPLIANT.model_dump(mode="json"),
        device=_device(compliant=False),
    ),
    "account.requested": _inventory_event(
        "account.requested", _ACCOUNT_ID, account=_account(AccountStatus.REQUESTED)
    ),
    "account.approved": _inventory_event(
        "account.approved", _ACCOUNT_ID, account=_account(AccountStatus.APPROVED)
    ),
    "account.rejected": _inventory_event(
        "account.rejected", _ACCOUNT_ID, account=_account(AccountStatus.REJECTED)
    ),
    "technology.created": _inventory_event("technology.created", "onenote", technology=_ONENOTE),
    "technology.tier_changed": _inventory_event(
        "technology.tier_changed",
        "evernote",
        old_tier="best_effort",
        new_tier="unsupported",
        people_affected=1,
        people=[_ALICE],
        technology=_EVERNOTE_UNSUPPORTED,
    ),
    TEST_EVENT_TYPE: Event(
        id="evt_01JDXB4N6P",
        type=TEST_EVENT_TYPE,
        timestamp=_NOW,
        source="notify",
        subject=_WEBHOOK_ID,
        data={
            "message": "A test event from Deskside: this endpoint is reachable and "
            "verifies signatures.",
            "webhook_id": _WEBHOOK_ID,
        },
    ),
    # Notify's mail to admins when it switches a webhook off; no webhook receives it.
    "webhook.disabled": Event(
        id="evt_01JDXB5P7Q",
        type="webhook.disabled",
        timestamp=_NOW,
        source="notify",
        subject=_WEBHOOK_ID,
        data={"webhook": _DISABLED_WEBHOOK},
    ),
}

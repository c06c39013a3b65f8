"""Email templates: a subject, a text body and an HTML body per event type, in Jinja2.

Admins edit them through the API, so they render in Jinja2's sandbox: a
template reads the event's data and nothing of Python (no attributes that
start with `_`, no unsafe calls). Undefined names are errors, caught when
the template is saved by rendering it against a sample event.

What a template can use (keep these stable, admins write against them):

- `event`: the envelope (`id`, `type`, `timestamp`, `source`, `subject`, `data`);
- `data`: the event's data, as the producing service wrote it;
- `ticket`: `data.ticket` for ticket events (reference, title, status,
  requester, technology with its guide, sla with due dates …), else none;
- `recipient`: `name` and `email` of the person the mail goes to;
- `public_url`, and `ticket_url`: the ticket's address through the gateway;
- filters `when` (a timestamp, readably) and `minutes` (a number of minutes
  as hours and minutes), and `label` (`best_effort` → `best effort`).

Subjects carry no `[SD-000042]` tag: the mail builder adds it to every
ticket's mail, so an edited template cannot break threading.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from jinja2 import ChoiceLoader, DictLoader, StrictUndefined, Template
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

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
)
from deskside_contracts.notify import WebhookRead
from deskside_contracts.tickets import (
    Channel,
    EnrichmentStatus,
    Level,
    Person,
    Priority,
    TechnologySnapshot,
    TicketRead,
    TicketSla,
    TicketStatus,
)
from deskside_notify.rules import Recipient


class TemplateError(Exception):
    """A template that cannot render: bad syntax, an unknown name, or a sandbox refusal."""


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_PACKAGE = resources.files("deskside_notify") / "templates"
# The HTML layout every default body extends; an admin's HTML may extend it too.
_LAYOUT = "layout.html"


def _load(name: str) -> str:
    return (_PACKAGE / name).read_text(encoding="utf-8")


def _when(value: Any) -> str:
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _minutes(value: Any) -> str:
    total = abs(int(value or 0))
    hours, minutes = divmod(total, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _label(value: Any) -> str:
    return str(value or "").replace("_", " ")


def _environment(*, html: bool) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        loader=ChoiceLoader([DictLoader({_LAYOUT: _load(_LAYOUT)})]) if html else None,
    )
    environment.filters.update(when=_when, minutes=_minutes, label=_label)
    return environment


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def render(
    template: EmailTemplate, event: Event, recipient: Recipient, *, public_url: str
) -> RenderedEmail:
    ticket = event.data.get("ticket")
    context: dict[str, Any] = {
        "event": event.model_dump(mode="json"),
        "data": event.data,
        "ticket": ticket,
        "recipient": {"name": recipient.name, "email": recipient.email},
        "public_url": public_url.rstrip("/"),
        "ticket_url": (
            f"{public_url.rstrip('/')}/v1/tickets/{ticket['reference']}"
            if isinstance(ticket, Mapping) and ticket.get("reference")
            else None
        ),
    }
    subject = _render_part("subject", _TEXT, template.subject, context)
    text = _render_part("text", _TEXT, template.text, context)
    html = _render_part("html", _HTML, template.html, context)
    # A subject is one line whatever the template did: no header can be split in two.
    subject = " ".join(subject.split())
    if not subject:
        raise TemplateError("subject: it renders empty.")
    return RenderedEmail(subject=subject, text=text, html=html)


def _render_part(
    part: str, environment: SandboxedEnvironment, source: str, context: dict[str, Any]
) -> str:
    try:
        return _compiled(environment, source).render(context)
    except JinjaError as exc:
        raise TemplateError(f"{part}: {exc}") from None


@functools.lru_cache(maxsize=256)
def _compiled(environment: SandboxedEnvironment, source: str) -> Template:
    # Compiling is most of a render's cost (about two thirds of notify's CPU
    # under a storm of ticket events); a template's source rarely changes.
    return environment.from_string(source)


def check_template(template: EmailTemplate, event_type: str) -> None:
    """Raise TemplateError unless `template` renders against the sample of `event_type`."""
    render(
        template,
        SAMPLE_EVENTS[event_type],
        Recipient(email="alice@example.com", name="Alice Ames", person_id="alice"),
        public_url="https://desk.example.com",
    )


def _default(event_type: str) -> EmailTemplate:
    return EmailTemplate(
        subject=_load(f"{event_type}.subject.txt").strip(),
        text=_load(f"{event_type}.txt"),
        html=_load(f"{event_type}.html"),
    )


_MAILED = (
    "ticket.created",
    "ticket.commented",
    "ticket.assigned",
    "ticket.escalated",
    "ticket.resolved",
    "ticket.sla_warning",
    "ticket.sla_breached",
    "account.approved",
    "account.rejected",
    "device.compliance_changed",
    "technology.tier_changed",
    "webhook.disabled",
)
DEFAULT_TEMPLATES: Mapping[str, EmailTemplate] = {name: _default(name) for name in _MAILED}


# --- sample events: what previews render and edits are checked against -----------------------

_NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
_ALICE = {"id": "alice", "email": "alice@example.com", "name": "Alice Ames"}
_AGNES = {"id": "agnes", "email": "agnes@example.com", "name": "Agnes Agent"}
_TIER2 = {
    "id": "grp_tier2",
    "name": "Tier 2",
    "email": "tier2@example.com",
    "tier": 2,
    "members": [_AGNES],
}


def _sample_ticket(status: TicketStatus = TicketStatus.NEW) -> dict[str, Any]:
    return TicketRead(
        id="tkt_sample",
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
        assignee_id="agnes",
        tier=1,
        resolution="Re-linked the account; syncing again."
        if status is TicketStatus.RESOLVED
        else None,
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
    ).model_dump(mode="json")


def _ticket_event(event_type: str, status: TicketStatus = TicketStatus.NEW, **extra: Any) -> Event:
    return Event(
        id=f"evt_sample_{event_type.replace('.', '_')}",
        type=event_type,
        timestamp=_NOW,
        source="tickets",
        subject="tkt_sample",
        data={
            "ticket": _sample_ticket(status),
            "watchers": [],
            "assignee": _AGNES,
            "group": _TIER2,
            **extra,
        },
    )


def _account(status: AccountStatus) -> dict[str, Any]:
    rejected = status is AccountStatus.REJECTED
    return AccountRead(
        id="acc_sample",
        owner=DeviceOwner(**_ALICE),
        technology="evernote" if rejected else "dropbox",
        identifier="alice@example.com",
        purpose="Sharing slides with customers",
        data_classification=DataClassification.CONFIDENTIAL,
        status=status,
        decided_by="policy" if rejected else "agnes",
        decision_note="Evernote is prohibited for work. Use onenote instead." if rejected else None,
        recommended_alternative="onenote" if rejected else None,
        version=1,
        created_at=_NOW,
        updated_at=_NOW,
    ).model_dump(mode="json")


def _inventory_event(event_type: str, subject: str, data: dict[str, Any]) -> Event:
    return Event(
        id=f"evt_sample_{event_type.replace('.', '_')}",
        type=event_type,
        timestamp=_NOW,
        source="inventory",
        subject=subject,
        data=data,
    )


_DEVICE = DeviceRead(
    id="dev_sample",
    owner=DeviceOwner(**_ALICE),
    ownership=Ownership.PERSONAL,
    technology="ipados",
    model="iPad Air",
    name="Alice's iPad",
    os_version="16.1",
    encrypted=True,
    passcode_set=False,
    compliance=Compliance(
        state=ComplianceState.NONCOMPLIANT,
        reasons=[ComplianceReason.OS_BELOW_MINIMUM, ComplianceReason.NO_PASSCODE],
    ),
    enrolled_at=_NOW,
    version=2,
    created_at=_NOW,
    updated_at=_NOW,
).model_dump(mode="json")

SAMPLE_EVENTS: Mapping[str, Event] = {
    "ticket.created": _ticket_event("ticket.created"),
    "ticket.commented": _ticket_event(
        "ticket.commented",
        TicketStatus.IN_PROGRESS,
        comment={
            "id": "cmt_sample",
            "ticket_id": "tkt_sample",
            "author": _AGNES,
            "body": "Could you sign out of Dropbox and back in, and tell me what you see?",
            "internal": False,
            "created_at": _NOW.isoformat(),
        },
    ),
    "ticket.assigned": _ticket_event("ticket.assigned", TicketStatus.IN_PROGRESS),
    "ticket.escalated": _ticket_event(
        "ticket.escalated",
        TicketStatus.IN_PROGRESS,
        escalation={
            "id": "esc_sample",
            "kind": "tier",
            "to_tier": 2,
            "reason": "Sync fails for every user of the new iPadOS release.",
            "status": "open",
            "evidence": [],
        },
    ),
    "ticket.resolved": _ticket_event("ticket.resolved", TicketStatus.RESOLVED),
    "ticket.sla_warning": _ticket_event("ticket.sla_warning", TicketStatus.IN_PROGRESS),
    "ticket.sla_breached": _ticket_event("ticket.sla_breached", TicketStatus.IN_PROGRESS),
    "account.approved": _inventory_event(
        "account.approved", "acc_sample", {"account": _account(AccountStatus.APPROVED)}
    ),
    "account.rejected": _inventory_event(
        "account.rejected", "acc_sample", {"account": _account(AccountStatus.REJECTED)}
    ),
    "device.compliance_changed": _inventory_event(
        "device.compliance_changed",
        "dev_sample",
        {
            "old": {"state": "compliant", "reasons": []},
            "new": {"state": "noncompliant", "reasons": ["os_below_minimum", "no_passcode"]},
            "device": _DEVICE,
        },
    ),
    "technology.tier_changed": _inventory_event(
        "technology.tier_changed",
        "evernote",
        {
            "old_tier": "best_effort",
            "new_tier": "unsupported",
            "people_affected": 12,
            "people": [_ALICE],
            "technology": {
                "key": "evernote",
                "name": "Evernote",
                "support_tier": "unsupported",
                "recommended_alternative": "onenote",
                "guide": "Export your notebooks (File > Export) and import them into OneNote.",
            },
        },
    ),
    "webhook.disabled": Event(
        id="evt_sample_webhook_disabled",
        type="webhook.disabled",
        timestamp=_NOW,
        source="notify",
        subject="whk_sample",
        data={
            "webhook": WebhookRead(
                id="whk_sample",
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
        },
    ),
}

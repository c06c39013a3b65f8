"""Who gets an email about an event: pure rules over the event's own data.

Producers put the people an event concerns into it (the ticket's requester,
watchers, assignee and group; a device's or account's owner; a technology's
users), so deciding costs no call to another service and replaying an event
decides the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deskside_contracts.events import Event

# Mail nobody can switch off: the acknowledgement is the reference number promised for
# every contact, and the webhook notice tells admins an integration stopped hearing.
ALWAYS_SENT: frozenset[str] = frozenset({"ticket.created", "webhook.disabled"})


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str | None = None
    person_id: str | None = None


@dataclass(frozen=True)
class PlannedEmail:
    recipient: Recipient
    event_type: str
    mandatory: bool
    ticket_id: str | None
    ticket_reference: str | None


Person = Mapping[str, Any]


def plan_emails(event: Event) -> list[PlannedEmail]:
    """The emails `event` calls for, one per address."""
    rule = _RULES.get(event.type)
    if rule is None:
        return []
    ticket = event.data.get("ticket") or {}
    recipients: dict[str, Recipient] = {}
    for person in rule(event.data):
        recipient = _recipient(person)
        if recipient is not None:
            recipients.setdefault(recipient.email.lower(), recipient)
    return [
        PlannedEmail(
            recipient=recipient,
            event_type=event.type,
            mandatory=event.type in ALWAYS_SENT,
            ticket_id=ticket.get("id"),
            ticket_reference=ticket.get("reference"),
        )
        for recipient in recipients.values()
    ]


def _recipient(person: Person | None) -> Recipient | None:
    if not person:
        return None
    email = person.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None  # someone we cannot write to (an id from a token without an email)
    return Recipient(email=email, name=person.get("name"), person_id=person.get("id"))


def _requester(data: Mapping[str, Any]) -> list[Person]:
    return [(data.get("ticket") or {}).get("requester") or {}]


def _commented(data: Mapping[str, Any]) -> list[Person]:
    comment = data.get("comment") or {}
    if comment.get("internal", False):
        return []  # internal notes are for the desk only
    author = comment.get("author") or {}
    requester = (data.get("ticket") or {}).get("requester") or {}
    people = [requester, *(data.get("watchers") or [])]
    if _same_person(author, requester):
        # The requester answered: whoever works the ticket needs to know.
        people.append(data.get("assignee") or {})
    return [person for person in people if not _same_person(person, author)]


def _assignee(data: Mapping[str, Any]) -> list[Person]:
    return [data.get("assignee") or {}]


def _group(data: Mapping[str, Any]) -> list[Person]:
    """The group's shared mailbox when it has one, else its members."""
    group = data.get("group") or {}
    if group.get("email"):
        return [{"email": group["email"], "name": group.get("name")}]
    return list(group.get("members") or [])


def _group_or_assignee(data: Mapping[str, Any]) -> list[Person]:
    return _group(data) or _assignee(data)


def _account_owner(data: Mapping[str, Any]) -> list[Person]:
    return [(data.get("account") or {}).get("owner") or {}]


def _fell_out_of_compliance(data: Mapping[str, Any]) -> list[Person]:
    old = (data.get("old") or {}).get("state")
    new = (data.get("new") or {}).get("state")
    if new != "noncompliant" or old == "noncompliant":
        return []  # improving, or still out for another reason: no news worth a mail
    return [(data.get("device") or {}).get("owner") or {}]


def _technology_users(data: Mapping[str, Any]) -> list[Person]:
    return list(data.get("people") or [])


def _same_person(one: Person, other: Person) -> bool:
    if one.get("id") and one.get("id") == other.get("id"):
        return True
    email = one.get("email")
    return bool(email) and str(email).lower() == str(other.get("email") or "").lower()


_RULES: Mapping[str, Callable[[Mapping[str, Any]], Iterable[Person]]] = {
    "ticket.created": _requester,
    "ticket.commented": _commented,
    "ticket.assigned": _assignee,
    "ticket.escalated": _group,
    "ticket.resolved": _requester,
    "ticket.sla_warning": _group_or_assignee,
    "ticket.sla_breached": _group_or_assignee,
    "account.approved": _account_owner,
    "account.rejected": _account_owner,
    "device.compliance_changed": _fell_out_of_compliance,
    "technology.tier_changed": _technology_users,
}

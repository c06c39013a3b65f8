"""Who is mailed about what: the rules as a table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from deskside_contracts.events import Event
from deskside_contracts.samples import SAMPLE_EVENTS
from deskside_notify.rules import ALWAYS_SENT, plan_emails
from deskside_notify.templates import DEFAULT_TEMPLATES
from tests.notify.factories import ticket, ticket_event

ALICE = {"id": "alice", "email": "alice@example.com", "name": "Alice Ames"}
BOB = {"id": "bob", "email": "bob@example.com", "name": "Bob"}
AGNES = {"id": "agnes", "email": "agnes@example.com", "name": "Agnes"}
GUS = {"id": "gus", "email": "gus@example.com", "name": "Gus"}


def recipients(event: Event) -> list[str]:
    return [email.recipient.email for email in plan_emails(event)]


def comment(author: dict[str, Any], *, internal: bool = False) -> dict[str, Any]:
    return {"id": "cmt_1", "author": author, "body": "Any news?", "internal": internal}


def group(email: str | None = None, members: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": "grp_2", "name": "Tier 2", "email": email, "tier": 2, "members": members or []}


def inventory_event(event_type: str, **data: Any) -> Event:
    return Event.model_validate(
        {
            "id": "evt_inv",
            "type": event_type,
            "timestamp": "2026-11-23T09:00:00Z",
            "source": "inventory",
            "subject": "x",
            "data": data,
        }
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(ticket_event("ticket.created"), ["alice@example.com"], id="created"),
        pytest.param(
            ticket_event("ticket.commented", comment=comment(AGNES), watchers=[BOB]),
            ["alice@example.com", "bob@example.com"],
            id="agent reply: requester and watchers",
        ),
        pytest.param(
            ticket_event("ticket.commented", comment=comment(BOB), watchers=[BOB]),
            ["alice@example.com"],
            id="a watcher is not mailed their own reply",
        ),
        pytest.param(
            ticket_event("ticket.commented", comment=comment(ALICE), assignee=AGNES),
            ["agnes@example.com"],
            id="requester reply: the assignee",
        ),
        pytest.param(
            ticket_event("ticket.commented", comment=comment(AGNES, internal=True), watchers=[BOB]),
            [],
            id="internal note: nobody",
        ),
        pytest.param(
            ticket_event(
                "ticket.commented", comment=comment(AGNES), watchers=[{**BOB, "email": None}]
            ),
            ["alice@example.com"],
            id="a watcher without an email is skipped",
        ),
        pytest.param(
            ticket_event(
                "ticket.commented",
                comment=comment(AGNES),
                watchers=[{"id": "alice2", "email": "ALICE@example.com", "name": None}],
            ),
            ["alice@example.com"],
            id="one mail per address",
        ),
        pytest.param(
            ticket_event("ticket.assigned", assignee=AGNES), ["agnes@example.com"], id="assigned"
        ),
        pytest.param(
            ticket_event("ticket.escalated", group=group(email="tier2@example.com", members=[GUS])),
            ["tier2@example.com"],
            id="escalated: the group mailbox",
        ),
        pytest.param(
            ticket_event("ticket.escalated", group=group(members=[GUS, AGNES])),
            ["gus@example.com", "agnes@example.com"],
            id="escalated: the members of a group without a mailbox",
        ),
        pytest.param(ticket_event("ticket.resolved"), ["alice@example.com"], id="resolved"),
        pytest.param(
            ticket_event("ticket.sla_breached", group=group(members=[GUS]), assignee=AGNES),
            ["gus@example.com"],
            id="breach: the group",
        ),
        pytest.param(
            ticket_event("ticket.sla_warning", assignee=AGNES),
            ["agnes@example.com"],
            id="warning without a group: the assignee",
        ),
        pytest.param(
            ticket_event("ticket.updated", assignee=AGNES), [], id="an update mails nobody"
        ),
        pytest.param(
            inventory_event("account.rejected", account={"owner": ALICE}),
            ["alice@example.com"],
            id="account rejected",
        ),
        pytest.param(
            inventory_event(
                "device.compliance_changed",
                old={"state": "compliant"},
                new={"state": "noncompliant"},
                device={"owner": ALICE},
            ),
            ["alice@example.com"],
            id="device falls out of compliance",
        ),
        pytest.param(
            inventory_event(
                "device.compliance_changed",
                old={"state": "noncompliant"},
                new={"state": "compliant"},
                device={"owner": ALICE},
            ),
            [],
            id="device back in compliance: no mail",
        ),
        pytest.param(
            inventory_event(
                "device.compliance_changed",
                old={"state": "noncompliant"},
                new={"state": "noncompliant"},
                device={"owner": ALICE},
            ),
            [],
            id="still out, another reason: no new mail",
        ),
        pytest.param(
            inventory_event("technology.tier_changed", people=[ALICE, BOB, {"id": "x"}]),
            ["alice@example.com", "bob@example.com"],
            id="tier change: its users",
        ),
    ],
)
def test_who_is_mailed(event: Event, expected: list[str]) -> None:
    assert recipients(event) == expected


def test_events_from_before_people_were_added_still_plan() -> None:
    old = ticket_event("ticket.assigned")
    data = {key: value for key, value in old.data.items() if key not in ("assignee", "group")}
    assert recipients(old.model_copy(update={"data": data})) == []


def test_only_the_acknowledgement_and_security_mail_are_mandatory() -> None:
    planned = plan_emails(ticket_event("ticket.created"))
    resolved = plan_emails(ticket_event("ticket.resolved"))
    assert [email.mandatory for email in planned] == [True]
    assert [email.mandatory for email in resolved] == [False]
    assert {"ticket.created", "webhook.disabled"} == ALWAYS_SENT


def test_ticket_mail_carries_the_ticket_it_threads_under() -> None:
    read = ticket(reference="SD-000777")
    (email,) = plan_emails(ticket_event("ticket.created", read=read))
    assert (email.ticket_id, email.ticket_reference) == (read.id, "SD-000777")


@pytest.mark.parametrize("event_type", sorted(set(DEFAULT_TEMPLATES) - {"webhook.disabled"}))
def test_every_sample_event_reaches_someone(event_type: str) -> None:
    assert plan_emails(SAMPLE_EVENTS[event_type]), event_type

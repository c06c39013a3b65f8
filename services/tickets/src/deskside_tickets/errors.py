"""Domain errors of the tickets service."""

from __future__ import annotations

from deskside_kit.problems import Conflict, Forbidden, NotFound


class TicketNotFound(NotFound):
    slug = "ticket-not-found"
    title = "Ticket not found"

    def __init__(self, ticket_ref: str) -> None:
        super().__init__(f"No ticket {ticket_ref!r} that you can see.")


class InvalidTransition(Conflict):
    slug = "invalid-transition"
    title = "Not possible in the ticket's current status"

    def __init__(self, action: str, status: str) -> None:
        super().__init__(
            f"Cannot {action} a ticket that is {status}.", action=action, current_status=status
        )


class NotYours(Forbidden):
    slug = "not-allowed"
    title = "Not allowed"


class NotFoundOnTicket(NotFound):
    slug = "not-found"
    title = "Not found"

    def __init__(self, what: str, identifier: str) -> None:
        super().__init__(f"The ticket has no {what} {identifier!r}.")


class AlreadyRated(Conflict):
    slug = "already-rated"
    title = "Already rated"

    def __init__(self) -> None:
        super().__init__("The requester has already rated this ticket; a rating is given once.")


class SlaPolicyNotFound(NotFound):
    slug = "sla-policy-not-found"
    title = "SLA policy not found"

    def __init__(self, policy_id: str) -> None:
        super().__init__(f"No SLA policy {policy_id!r}.")


class AgentNotFound(NotFound):
    slug = "agent-not-found"
    title = "Agent not found"

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"No agent {agent_id!r}.")


class GroupNotFound(NotFound):
    slug = "group-not-found"
    title = "Group not found"

    def __init__(self, group_id: str) -> None:
        super().__init__(f"No group {group_id!r}.")

"""Domain errors of the tickets service."""

from deskside_kit.problems import NotFound


class TicketNotFound(NotFound):
    slug = "ticket-not-found"
    title = "Ticket not found"

    def __init__(self, ticket_ref: str) -> None:
        super().__init__(f"No ticket {ticket_ref!r} that you can see.")

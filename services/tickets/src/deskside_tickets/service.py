"""The rules of the tickets service; turns rows into contracts."""

from __future__ import annotations

from deskside_contracts.paging import Page
from deskside_contracts.tickets import Person, TicketCreate, TicketRead, TicketStatus
from deskside_kit.auth import Principal
from deskside_kit.paging import PageRequest, build_page
from deskside_tickets.config import TicketsSettings
from deskside_tickets.errors import TicketNotFound
from deskside_tickets.models import Ticket
from deskside_tickets.repository import TicketRepository


def format_reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


def ticket_to_read(ticket: Ticket) -> TicketRead:
    return TicketRead(
        id=ticket.id,
        reference=ticket.reference,
        title=ticket.title,
        description=ticket.description,
        status=TicketStatus(ticket.status),
        requester=Person(
            id=ticket.requester_id, email=ticket.requester_email, name=ticket.requester_name
        ),
        version=ticket.version,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )


class TicketService:
    def __init__(self, repository: TicketRepository, settings: TicketsSettings) -> None:
        self.repository = repository
        self.settings = settings

    async def create_ticket(self, principal: Principal, data: TicketCreate) -> TicketRead:
        number = await self.repository.next_reference_number()
        ticket = Ticket(
            number=number,
            reference=format_reference(self.settings.reference_prefix, number),
            title=data.title,
            description=data.description,
            status=TicketStatus.NEW.value,
            requester_id=principal.sub,
            requester_email=principal.email,
            requester_name=principal.name,
        )
        return ticket_to_read(await self.repository.add(ticket))

    async def get_ticket(self, principal: Principal, ticket_ref: str) -> TicketRead:
        ticket = await self.repository.find_by_id_or_reference(ticket_ref)
        # Someone else's ticket answers exactly like a missing one: its
        # existence is not the requester's to learn.
        if ticket is None or not _may_see(principal, ticket):
            raise TicketNotFound(ticket_ref)
        return ticket_to_read(ticket)

    async def list_tickets(self, principal: Principal, page: PageRequest) -> Page[TicketRead]:
        requester_id = None if principal.is_staff else principal.sub
        rows = await self.repository.list_page(page, requester_id=requester_id)
        return build_page(rows, page, sort_key=lambda t: [t.id], to_item=ticket_to_read)


def _may_see(principal: Principal, ticket: Ticket) -> bool:
    return principal.is_staff or ticket.requester_id == principal.sub

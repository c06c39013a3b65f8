"""HTTP handlers of the tickets service: validate, call the service, return a contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from deskside_contracts.paging import Page
from deskside_contracts.tickets import TicketCreate, TicketRead
from deskside_kit.paging import PageParams
from deskside_kit.problems import Forbidden, problem_responses
from deskside_tickets.deps import Tickets, TicketUser
from deskside_tickets.errors import TicketNotFound

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

TicketRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The ticket's id (`tkt_…`) or its reference (`SD-000042`).",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden),
    summary="Open a ticket: the caller gets its reference number at once",
)
async def create_ticket(
    data: TicketCreate, principal: TicketUser, tickets: Tickets, response: Response
) -> TicketRead:
    ticket = await tickets.create_ticket(principal, data)
    response.headers["Location"] = f"/v1/tickets/{ticket.reference}"
    response.headers["ETag"] = f'"{ticket.version}"'
    return ticket


@router.get("", responses=problem_responses(Forbidden), summary="List tickets, newest first")
async def list_tickets(
    principal: TicketUser, tickets: Tickets, page: PageParams
) -> Page[TicketRead]:
    return await tickets.list_tickets(principal, page)


@router.get(
    "/{ticket_ref}",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Read a ticket by id or by reference",
)
async def get_ticket(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets, response: Response
) -> TicketRead:
    ticket = await tickets.get_ticket(principal, ticket_ref)
    response.headers["ETag"] = f'"{ticket.version}"'
    return ticket

"""All SQL of the tickets service. Flushes, never commits: the request's
transaction commits once, in the session dependency."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Sequence as DatabaseSequence
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_kit.paging import PageRequest, after_cursor
from deskside_tickets.models import ReferenceCounter, Ticket

TICKET_REFERENCE_SEQUENCE = DatabaseSequence("ticket_reference_seq")


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_reference_number(self) -> int:
        """The next ticket number: unique under concurrent creates and never reused."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            number = await self.session.exec(select(TICKET_REFERENCE_SEQUENCE.next_value()))
            return int(number.one())
        # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE).
        result = await self.session.exec(
            update(ReferenceCounter)
            .where(col(ReferenceCounter.name) == "ticket")
            .values(value=col(ReferenceCounter.value) + 1)
            .returning(col(ReferenceCounter.value))
        )
        return int(result.scalar_one())

    async def add(self, ticket: Ticket) -> Ticket:
        self.session.add(ticket)
        await self.session.flush()
        return ticket

    async def find_by_id_or_reference(self, ticket_ref: str) -> Ticket | None:
        column = Ticket.reference if "-" in ticket_ref else Ticket.id
        result = await self.session.exec(select(Ticket).where(col(column) == ticket_ref))
        return result.first()

    async def list_page(self, page: PageRequest, *, requester_id: str | None) -> Sequence[Ticket]:
        """Newest first; only `requester_id`'s tickets when given."""
        statement = select(Ticket)
        if requester_id is not None:
            statement = statement.where(col(Ticket.requester_id) == requester_id)
        statement = after_cursor(statement, [col(Ticket.id)], page, descending=True)
        return (await self.session.exec(statement)).all()

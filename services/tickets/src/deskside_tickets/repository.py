"""All SQL of the tickets service. Flushes, never commits: the request's
transaction commits once, in the session dependency."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal,
    literal_column,
    or_,
    text,
    update,
)
from sqlalchemy import Sequence as DatabaseSequence
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from deskside_kit.database import UtcDateTime, dialect_of, has_connection, insert_new, utc_now
from deskside_kit.paging import PageRequest, after_cursor
from deskside_tickets.models import (
    Agent,
    AlertTicket,
    Comment,
    Escalation,
    Evidence,
    Group,
    GroupMember,
    InboundMessage,
    Interaction,
    ReferenceCounter,
    SlaPolicy,
    Ticket,
    TicketChange,
    TicketLink,
    Watcher,
)

TICKET_REFERENCE_SEQUENCE = DatabaseSequence("ticket_reference_seq")
OPEN_STATUSES = ("new", "in_progress", "waiting_on_requester", "waiting_on_vendor")
FAR_FUTURE = literal(datetime(9999, 1, 1, tzinfo=UTC), type_=UtcDateTime)

SORTS: dict[str, tuple[Any, bool]] = {
    # Soonest resolution deadline first; tickets without a running clock last.
    "due": (func.coalesce(col(Ticket.sla_resolution_due_at), FAR_FUTURE), False),
    "-created_at": (col(Ticket.created_at), True),
    "created_at": (col(Ticket.created_at), False),
    "-updated_at": (col(Ticket.updated_at), True),
    "updated_at": (col(Ticket.updated_at), False),
    "priority": (col(Ticket.priority), False),
    "-priority": (col(Ticket.priority), True),
}
# A search, newest first, looks at this last stretch of tickets before the rest
# (`TicketRepository._newest_matches`).
SEARCH_RECENT_FIRST = timedelta(days=7)
# Older tickets are sorted in full when no more than this many match
# (`TicketRepository._older_matches`).
SEARCH_FEW_MATCHES = 1000


@dataclass(frozen=True)
class TicketFilters:
    statuses: Sequence[str] = ()
    priorities: Sequence[str] = ()
    assignee_id: str | None = None
    group_id: str | None = None
    requester_id: str | None = None
    technology_key: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    breached: bool | None = None
    q: str | None = None
    # For requesters and integrations: only tickets raised for them or by them, or watched.
    visible_to: str | None = None


class ReferenceNumbers:
    """Ticket numbers drawn from PostgreSQL's sequence a block at a time, for one process.

    Drawn one by one, each number cost a create a round trip of its own, about a
    twelfth of its CPU. Drawn twenty at a time, nineteen creates in twenty need
    none. Numbers stay unique and are never reused. The price: a process that
    stops leaves the rest of its block unused, a gap like the one a rolled-back
    create leaves; and replicas draw different blocks, so across replicas a
    later ticket may have a lower number.
    """

    BLOCK = 20

    def __init__(self, engine: AsyncEngine, block: int = BLOCK) -> None:
        # A block is drawn on a connection apart from the create's transaction (a
        # sequence is outside every transaction anyway), in autocommit: the create's
        # session stays without a connection, so its rows can go in one statement
        # alone (`insert_new`).
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.block = block
        self._numbers: deque[int] = deque()
        self._drawing = asyncio.Lock()

    async def take(self, session: AsyncSession) -> int:
        """The next number, for a create in `session`."""
        if self._numbers:
            return self._numbers.popleft()
        # Whoever may draw holds its connection before it waits for the lock, so the
        # one drawing never waits for the pool while the others, waiting for it,
        # hold what the pool has. A create whose transaction already has a connection
        # draws on it; any other takes one of its own, held only for the draw.
        if has_connection(session):
            return await self._take(await session.connection())
        async with self._engine.connect() as connection:
            return await self._take(connection)

    async def _take(self, connection: AsyncConnection) -> int:
        # One create draws the next block; the others wait for it rather than draw too.
        async with self._drawing:
            if not self._numbers:
                drawn = await connection.execute(_draw_statement(self.block))
                self._numbers.extend(sorted(int(number) for number in drawn.scalars()))
            return self._numbers.popleft()


def _draw_statement(count: int) -> SelectOfScalar[int]:
    return select(TICKET_REFERENCE_SEQUENCE.next_value()).select_from(
        func.generate_series(1, count)
    )


class TicketRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_reference_number(self, numbers: ReferenceNumbers | None = None) -> int:
        """The next ticket number: unique under concurrent creates and never reused."""
        if dialect_of(self.session) == "postgresql":
            if numbers is not None:
                return await numbers.take(self.session)
            return (await self._draw_numbers(1))[0]
        # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE).
        result = await self.session.exec(
            update(ReferenceCounter)
            .where(col(ReferenceCounter.name) == "ticket")
            .values(value=col(ReferenceCounter.value) + 1)
            .returning(col(ReferenceCounter.value))
        )
        return int(result.scalar_one())

    async def _draw_numbers(self, count: int) -> Sequence[int]:
        drawn = await self.session.exec(_draw_statement(count))
        return [int(number) for number in drawn.all()]

    async def insert_new(self) -> None:
        """Write the rows added to the session so far, in one statement where it can."""
        await insert_new(self.session)

    async def add(self, row: Any) -> None:
        self.session.add(row)
        await self.session.flush()

    @contextlib.asynccontextmanager
    async def unique(self, taken: Exception) -> AsyncIterator[None]:
        """Write the changes made inside in a savepoint; `taken` if one breaks a constraint.

        The transaction stays usable, so the caller answers 409, not 500. Make the
        changes inside the block: a savepoint first writes whatever is pending,
        outside itself, where a broken constraint would fail the whole transaction.
        """
        try:
            async with self.session.begin_nested():
                yield
                await self.session.flush()
        except IntegrityError:
            raise taken from None

    async def find(self, ticket_ref: str, *, for_update: bool = False) -> Ticket | None:
        """By id (`tkt_…`) or by reference (`SD-000042`)."""
        column = Ticket.reference if "-" in ticket_ref else Ticket.id
        statement = select(Ticket).where(col(column) == ticket_ref)
        if for_update:
            # PostgreSQL locks the row until commit, so two changes never both
            # start from the same version; SQLite writers are serialised anyway.
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def list_page(
        self, page: PageRequest, filters: TicketFilters, sort: str
    ) -> Sequence[Ticket]:
        statement = select(Ticket)
        conditions = []
        if filters.visible_to is not None:
            watched = select(Watcher.ticket_id).where(col(Watcher.person_id) == filters.visible_to)
            conditions.append(
                or_(
                    col(Ticket.requester_id) == filters.visible_to,
                    col(Ticket.created_by) == filters.visible_to,
                    col(Ticket.id).in_(watched),
                )
            )
        if filters.statuses:
            conditions.append(col(Ticket.status).in_(filters.statuses))
        if filters.priorities:
            conditions.append(col(Ticket.priority).in_(filters.priorities))
        if filters.assignee_id is not None:
            conditions.append(col(Ticket.assignee_id) == filters.assignee_id)
        if filters.group_id is not None:
            conditions.append(col(Ticket.group_id) == filters.group_id)
        if filters.requester_id is not None:
            conditions.append(col(Ticket.requester_id) == filters.requester_id)
        if filters.technology_key is not None:
            conditions.append(col(Ticket.technology_key) == filters.technology_key)
        if filters.created_after is not None:
            conditions.append(col(Ticket.created_at) >= filters.created_after)
        if filters.created_before is not None:
            conditions.append(col(Ticket.created_at) < filters.created_before)
        if filters.breached is not None:
            either = or_(
                col(Ticket.sla_first_response_breached), col(Ticket.sla_resolution_breached)
            )
            conditions.append(either if filters.breached else ~either)
        if filters.updated_after is not None:
            conditions.append(col(Ticket.updated_at) >= filters.updated_after)
        words = await self._matches(filters.q) if filters.q else None
        if words is not None:
            conditions.append(words)
        if conditions:
            statement = statement.where(*conditions)
        column, descending = SORTS[sort]
        statement = after_cursor(statement, [column, col(Ticket.id)], page, descending=descending)
        if words is not None and sort == "-created_at" and dialect_of(self.session) == "postgresql":
            return await self._newest_matches(statement, words, page.limit + 1)
        return (await self.session.exec(statement)).all()

    async def _newest_matches(
        self, statement: SelectOfScalar[Ticket], words: ColumnElement[Any], wanted: int
    ) -> Sequence[Ticket]:
        """A search's page, newest first: the last week's tickets, then older ones if need be.

        PostgreSQL guesses how many tickets match several words by multiplying each
        word's share, but words that go together ("shared folder") match far more
        often. Expecting few, it fetched every match and sorted them: at a million
        tickets one search read 23,000 rows from all over the table, 90 ms, to show
        51. Within a week it fetches only that week's matches, 16 ms. Older tickets
        cost a second query, only when the week cannot fill the page.
        """
        recent_since = utc_now() - SEARCH_RECENT_FIRST
        newest = col(Ticket.created_at)
        rows = list((await self.session.exec(statement.where(newest >= recent_since))).all())
        if len(rows) < wanted:
            older = statement.where(newest < recent_since)
            rows += await self._older_matches(older, words, wanted - len(rows))
        return rows

    async def _older_matches(
        self, statement: SelectOfScalar[Ticket], words: ColumnElement[Any], wanted: int
    ) -> Sequence[Ticket]:
        """The newest `wanted` of the older matches; by the words' index when they are few.

        Older tickets are asked for when the last week held few matches, so the
        words may be rare. Walking back newest first is then the wrong way to find
        them: PostgreSQL expects a word it keeps no statistics for (a typo, most
        often) in thousands of tickets, and walked all million, half a second, to
        find none. So the words alone (no filter, no age) are looked up first, for
        at most `SEARCH_FEW_MATCHES` tickets: PostgreSQL reads a rare word's from
        its index and a common word's in passing. If that is every ticket with
        the words, the page is picked from those; otherwise back to the walk.
        """
        some = select(col(Ticket.id)).where(words).limit(SEARCH_FEW_MATCHES + 1)
        having_the_words = (await self.session.exec(some)).all()
        if len(having_the_words) > SEARCH_FEW_MATCHES:
            return (await self.session.exec(statement.limit(wanted))).all()
        if not having_the_words:
            return []
        # One array parameter, not one per id: a statement of its own for each count
        # would crowd the connection's cache of prepared statements.
        among = col(Ticket.id) == any_(bindparam("ids", having_the_words, type_=ARRAY(String)))
        return (await self.session.exec(statement.where(among).limit(wanted))).all()

    async def _matches(self, query: str) -> Any:
        """Tickets whose title, description or public comments match `query`."""
        if dialect_of(self.session) == "postgresql":
            # A generated column, PostgreSQL's only (migration 0010): not on the model.
            document: ColumnElement[Any] = literal_column("tickets.search_vector")
            return document.op("@@")(func.websearch_to_tsquery("english", query))
        # FTS5 has a query language of its own; each word is quoted so that user
        # input is only ever words to find, all of which must appear.
        words = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
        matching = text("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH :words")
        return literal_column("tickets.rowid").in_(matching.bindparams(words=words))

    async def comments(self, ticket_id: str, *, include_internal: bool) -> Sequence[Comment]:
        statement = select(Comment).where(col(Comment.ticket_id) == ticket_id)
        if not include_internal:
            statement = statement.where(col(Comment.internal).is_(False))
        return (await self.session.exec(statement.order_by(col(Comment.id)))).all()

    async def comment_page(
        self, ticket_id: str, page: PageRequest, *, include_internal: bool
    ) -> Sequence[Comment]:
        statement = select(Comment).where(col(Comment.ticket_id) == ticket_id)
        if not include_internal:
            statement = statement.where(col(Comment.internal).is_(False))
        statement = after_cursor(statement, [col(Comment.id)], page)
        return (await self.session.exec(statement)).all()

    async def history_page(
        self, ticket_id: str, page: PageRequest, *, include_internal: bool
    ) -> Sequence[TicketChange]:
        statement = select(TicketChange).where(col(TicketChange.ticket_id) == ticket_id)
        if not include_internal:
            statement = statement.where(col(TicketChange.internal).is_(False))
        statement = after_cursor(statement, [col(TicketChange.id)], page)
        return (await self.session.exec(statement)).all()

    async def resolved_before(self, cutoff: datetime, limit: int) -> Sequence[Ticket]:
        """Resolved tickets due to close, locked so that only one replica closes each."""
        statement = (
            select(Ticket)
            # 'resolved' written into the SQL, not sent as a parameter: a plan made for
            # any status (a prepared statement's) could not use the partial index.
            .where(
                col(Ticket.status) == literal_column("'resolved'"), col(Ticket.resolved_at) < cutoff
            )
            .order_by(col(Ticket.resolved_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(statement)).all()

    async def pending_enrichment(self, limit: int) -> Sequence[Ticket]:
        statement = (
            select(Ticket)
            # A literal, as in `resolved_before`: the partial index needs it.
            .where(col(Ticket.enrichment) == literal_column("'pending'"))
            .order_by(col(Ticket.created_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(statement)).all()

    # --- watchers, interactions, links, escalations -----------------------------------

    async def is_watching(self, ticket_id: str, person_id: str) -> bool:
        statement = select(Watcher).where(
            col(Watcher.ticket_id) == ticket_id, col(Watcher.person_id) == person_id
        )
        return (await self.session.exec(statement)).first() is not None

    async def watchers(self, ticket_id: str) -> Sequence[Watcher]:
        statement = (
            select(Watcher)
            .where(col(Watcher.ticket_id) == ticket_id)
            .order_by(col(Watcher.created_at), col(Watcher.person_id))
        )
        return (await self.session.exec(statement)).all()

    async def remove_watcher(self, ticket_id: str, person_id: str) -> bool:
        watcher = await self.session.get(Watcher, (ticket_id, person_id))
        if watcher is None:
            return False
        await self.session.delete(watcher)
        await self.session.flush()
        return True

    async def interaction(self, ticket_id: str, interaction_id: str) -> Interaction | None:
        statement = select(Interaction).where(
            col(Interaction.ticket_id) == ticket_id, col(Interaction.id) == interaction_id
        )
        return (await self.session.exec(statement.with_for_update())).first()

    async def interaction_page(self, ticket_id: str, page: PageRequest) -> Sequence[Interaction]:
        statement = select(Interaction).where(col(Interaction.ticket_id) == ticket_id)
        statement = after_cursor(statement, [col(Interaction.id)], page)
        return (await self.session.exec(statement)).all()

    async def link_exists(self, first_id: str, second_id: str) -> bool:
        return await self.session.get(TicketLink, (first_id, second_id)) is not None

    async def linked_tickets(self, ticket_id: str) -> Sequence[Ticket]:
        others = (
            select(TicketLink.second_id)
            .where(col(TicketLink.first_id) == ticket_id)
            .union(select(TicketLink.first_id).where(col(TicketLink.second_id) == ticket_id))
        )
        statement = select(Ticket).where(col(Ticket.id).in_(others)).order_by(col(Ticket.id))
        return (await self.session.exec(statement)).all()

    async def move_comments(self, from_id: str, to_id: str) -> int:
        result = await self.session.exec(
            update(Comment).where(col(Comment.ticket_id) == from_id).values(ticket_id=to_id)
        )
        return int(result.rowcount or 0)

    async def escalations(self, ticket_id: str) -> list[tuple[Escalation, list[Evidence]]]:
        statement = (
            select(Escalation)
            .where(col(Escalation.ticket_id) == ticket_id)
            .order_by(col(Escalation.id))
        )
        escalations = (await self.session.exec(statement)).all()
        evidence = await self._evidence([escalation.id for escalation in escalations])
        return [(escalation, evidence.get(escalation.id, [])) for escalation in escalations]

    async def escalation(
        self, ticket_id: str, escalation_id: str
    ) -> tuple[Escalation, list[Evidence]] | None:
        statement = select(Escalation).where(
            col(Escalation.ticket_id) == ticket_id, col(Escalation.id) == escalation_id
        )
        escalation = (await self.session.exec(statement.with_for_update())).first()
        if escalation is None:
            return None
        return escalation, (await self._evidence([escalation.id])).get(escalation.id, [])

    async def _evidence(self, escalation_ids: Sequence[str]) -> dict[str, list[Evidence]]:
        if not escalation_ids:
            return {}
        statement = (
            select(Evidence)
            .where(col(Evidence.escalation_id).in_(escalation_ids))
            .order_by(col(Evidence.id))
        )
        grouped: dict[str, list[Evidence]] = {}
        for item in (await self.session.exec(statement)).all():
            grouped.setdefault(item.escalation_id, []).append(item)
        return grouped

    # --- SLA ----------------------------------------------------------------------------

    async def policies(self) -> Sequence[SlaPolicy]:
        statement = select(SlaPolicy).order_by(col(SlaPolicy.name))
        return (await self.session.exec(statement)).all()

    async def policy(self, policy_id: str, *, for_update: bool = False) -> SlaPolicy | None:
        statement = select(SlaPolicy).where(col(SlaPolicy.id) == policy_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def clear_default_policy(self, except_id: str) -> None:
        await self.session.exec(
            update(SlaPolicy).where(col(SlaPolicy.id) != except_id).values(is_default=False)
        )

    async def policy_in_use(self, policy_id: str) -> bool:
        statement = select(Ticket.id).where(col(Ticket.sla_policy_id) == policy_id).limit(1)
        return (await self.session.exec(statement)).first() is not None

    async def due_for_sla_check(self, now: datetime, limit: int) -> Sequence[Ticket]:
        """Tickets with a threshold reached, locked so that one replica announces each."""
        statement = (
            select(Ticket)
            .where(col(Ticket.sla_next_check_at) <= now)
            .order_by(col(Ticket.sla_next_check_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(statement)).all()

    # --- agents and groups ---------------------------------------------------------------

    async def agent(self, agent_id: str, *, for_update: bool = False) -> Agent | None:
        statement = select(Agent).where(col(Agent.id) == agent_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def agents(self, agent_ids: Sequence[str] | None = None) -> Sequence[Agent]:
        statement = select(Agent).order_by(col(Agent.name), col(Agent.id))
        if agent_ids is not None:
            statement = statement.where(col(Agent.id).in_(agent_ids))
        return (await self.session.exec(statement)).all()

    async def memberships(self, agent_ids: Sequence[str]) -> dict[str, list[str]]:
        statement = (
            select(GroupMember)
            .where(col(GroupMember.agent_id).in_(agent_ids))
            .order_by(col(GroupMember.group_id))
        )
        groups: dict[str, list[str]] = {agent_id: [] for agent_id in agent_ids}
        for member in (await self.session.exec(statement)).all():
            groups[member.agent_id].append(member.group_id)
        return groups

    async def set_memberships(self, agent_id: str, group_ids: Sequence[str]) -> None:
        await self.session.exec(delete(GroupMember).where(col(GroupMember.agent_id) == agent_id))
        for group_id in group_ids:
            self.session.add(GroupMember(group_id=group_id, agent_id=agent_id))
        await self.session.flush()

    async def group(self, group_id: str, *, for_update: bool = False) -> Group | None:
        statement = select(Group).where(col(Group.id) == group_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def groups(self, group_ids: Sequence[str] | None = None) -> Sequence[Group]:
        statement = select(Group).order_by(col(Group.name))
        if group_ids is not None:
            statement = statement.where(col(Group.id).in_(group_ids))
        return (await self.session.exec(statement)).all()

    async def group_members(self, group_id: str) -> Sequence[Agent]:
        statement = (
            select(Agent)
            .join(GroupMember, col(GroupMember.agent_id) == col(Agent.id))
            .where(col(GroupMember.group_id) == group_id, col(Agent.active).is_(True))
        )
        return (await self.session.exec(statement)).all()

    async def group_in_use(self, group_id: str) -> bool:
        member = select(GroupMember.agent_id).where(col(GroupMember.group_id) == group_id)
        ticket = select(Ticket.id).where(col(Ticket.group_id) == group_id)
        return (await self.session.exec(member.limit(1))).first() is not None or (
            await self.session.exec(ticket.limit(1))
        ).first() is not None

    async def open_ticket_counts(self, agent_ids: Sequence[str]) -> dict[str, int]:
        statement = (
            select(Ticket.assignee_id, func.count())
            .where(col(Ticket.assignee_id).in_(agent_ids), col(Ticket.status).in_(OPEN_STATUSES))
            .group_by(col(Ticket.assignee_id))
        )
        counts = dict.fromkeys(agent_ids, 0)
        for agent_id, count in (await self.session.exec(statement)).all():
            if agent_id is not None:
                counts[agent_id] = int(count)
        return counts

    async def technology_use(self) -> Sequence[tuple[str, int, int]]:
        """(technology, tickets, open tickets) for every technology named on a ticket."""
        is_open = case((col(Ticket.status).in_(OPEN_STATUSES), 1), else_=0)
        statement = (
            select(Ticket.technology_key, func.count(), func.sum(is_open))
            .where(col(Ticket.technology_key).is_not(None))
            .group_by(col(Ticket.technology_key))
            .order_by(col(Ticket.technology_key))
        )
        return [
            (str(key), int(total), int(open_count or 0))
            for key, total, open_count in (await self.session.exec(statement)).all()
        ]

    # --- reports ------------------------------------------------------------------------

    # A report reads a year of tickets: it asks SQL for totals, never for the rows.

    async def begin_report(self) -> None:
        """Start a report's transaction: one snapshot, each query planned for its range.

        Must come before the transaction's first statement. On PostgreSQL:

        - REPEATABLE READ: a report asks several questions, and under the default
          isolation each would see the tickets committed by then; its totals would
          not add up, and a median would be read at a position counted in another
          moment. (SQLite's transaction is one snapshot already.)
        - A custom plan for every execution. asyncpg prepares each statement, and
          after five runs PostgreSQL may keep a generic plan, which guesses a range
          of `created_at` holds 0.5 % of the tickets: a year's median then sorted a
          million rows instead of walking its index, 2 s instead of 0.1 s. Planning
          costs well under a millisecond next to that.

        Refuses a session that has already sent something, on both databases: on
        PostgreSQL a read request's session runs in autocommit, so its earlier
        statements were no transaction at all, and this one would silently leave
        the report with none.
        """
        if has_connection(self.session):
            raise RuntimeError("begin_report must come before the session's first statement")
        if dialect_of(self.session) != "postgresql":
            return
        connection = await self.session.connection(
            execution_options={"isolation_level": "REPEATABLE READ"}
        )
        await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    async def summary_counts(self, start: datetime, end: datetime) -> list[SummaryCount]:
        """Tickets opened in the range, counted per status, priority and technology."""
        under_policy = col(Ticket.sla_policy_id).is_not(None)
        breached = col(Ticket.sla_first_response_breached) | col(Ticket.sla_resolution_breached)
        statement = (
            select_columns(
                col(Ticket.status),
                col(Ticket.priority),
                col(Ticket.technology_key),
                func.count(),
                func.count(col(Ticket.sla_policy_id)),
                func.sum(case((under_policy & ~breached, 1), else_=0)),
                func.count(col(Ticket.first_response_at)),
                func.count(col(Ticket.resolved_at)),
            )
            .where(*_opened_between(start, end))
            .group_by(col(Ticket.status), col(Ticket.priority), col(Ticket.technology_key))
        )
        return [
            SummaryCount(
                status,
                priority,
                technology,
                int(total),
                int(policed),
                int(kept or 0),
                int(responded),
                int(resolved),
            )
            for status, priority, technology, total, policed, kept, responded, resolved in (
                await self._columns(statement)
            ).all()
        ]

    async def median_minutes_to(
        self, start: datetime, end: datetime, *, responded: int, resolved: int
    ) -> tuple[float | None, float | None]:
        """Median minutes from opening to first response, and to resolution.

        `responded` and `resolved` count the range's tickets with each moment, as
        `summary_counts` found them in the same snapshot (`begin_report`).
        """
        if dialect_of(self.session) == "postgresql":
            return (
                await self._middle_of("first_response_minutes", responded, start, end),
                await self._middle_of("resolution_minutes", resolved, start, end),
            )
        # SQLite has neither the generated columns nor their indexes; its desks are
        # small enough to sort here.
        moments = (col(Ticket.first_response_at), col(Ticket.resolved_at))
        statement = select_columns(col(Ticket.created_at), *moments).where(
            or_(*(moment.is_not(None) for moment in moments)), *_opened_between(start, end)
        )
        rows = (await self._columns(statement)).all()
        return _median_minutes(rows, 1), _median_minutes(rows, 2)

    async def _middle_of(
        self, column: str, count: int, start: datetime, end: datetime
    ) -> float | None:
        """The median of a duration column over `count` values, read from its index.

        Sorting a year of durations was most of the summary report's time; the
        index (migration 0011) has them in order, so the middle one or two are
        found by walking half of it. Even counts average the two middle values,
        as `percentile_cont(0.5)` and `statistics.median` do.
        """
        if count == 0:
            return None
        minutes: ColumnElement[float] = literal_column(f"tickets.{column}")
        statement = (
            select_columns(minutes)
            .select_from(Ticket)
            .where(minutes.is_not(None), *_opened_between(start, end))
            .order_by(minutes)
            .offset((count - 1) // 2)
            .limit(1 if count % 2 else 2)
        )
        middle = [float(value) for value in (await self._columns(statement)).scalars()]
        return sum(middle) / len(middle) if middle else None

    async def settled_losses(self, start: datetime, end: datetime) -> list[Loss]:
        """Minutes lost on tickets that stopped work and have settled, per technology."""
        statement = (
            select_columns(
                col(Ticket.technology_key),
                func.max(col(Ticket.technology_name)),
                col(Ticket.technology_vendor),
                col(Ticket.technology_tier),
                func.sum(col(Ticket.minutes_lost)),
                func.count(),
            )
            .where(col(Ticket.work_stopped), col(Ticket.minutes_lost).is_not(None))
            .where(*_opened_between(start, end))
            .group_by(
                col(Ticket.technology_key),
                col(Ticket.technology_vendor),
                col(Ticket.technology_tier),
            )
        )
        return [
            Loss(key, name, vendor, tier, int(minutes), int(count))
            for key, name, vendor, tier, minutes, count in (await self._columns(statement)).all()
        ]

    async def _columns(self, statement: Any) -> Any:
        # Core rather than SQLModel's `select`, which takes at most four columns.
        return await (await self.session.connection()).execute(statement)

    async def unsettled_losses(self, start: datetime, end: datetime) -> list[OpenLoss]:
        """Tickets that stopped work and whose lost minutes still grow (or predate 0009)."""
        statement = select_columns(
            col(Ticket.technology_key),
            col(Ticket.technology_name),
            col(Ticket.technology_vendor),
            col(Ticket.technology_tier),
            col(Ticket.sla_policy_id),
            col(Ticket.created_at),
            func.coalesce(col(Ticket.resolved_at), col(Ticket.closed_at)),
        ).where(
            col(Ticket.work_stopped),
            col(Ticket.minutes_lost).is_(None),
            *_opened_between(start, end),
        )
        return [OpenLoss(*row) for row in (await self._columns(statement)).all()]

    async def open_vendor_escalations(self) -> Sequence[tuple[str, datetime]]:
        statement = select(Escalation.vendor, Escalation.created_at).where(
            col(Escalation.kind) == "vendor",
            col(Escalation.status).in_(("open", "waiting_on_vendor")),
        )
        return [
            (str(vendor), created_at) for vendor, created_at in (await self.session.exec(statement))
        ]

    # --- inbound email and alerts -------------------------------------------------

    async def inbound(self, inbound_id: str) -> InboundMessage | None:
        return await self.session.get(InboundMessage, inbound_id)

    async def inbound_seen(
        self, integration: str, webhook_id: str, message_id: str | None
    ) -> InboundMessage | None:
        """The stored message this one repeats: same webhook-id, or the same mail again."""
        same_delivery = (col(InboundMessage.integration) == integration) & (
            col(InboundMessage.webhook_id) == webhook_id
        )
        condition = (
            or_(same_delivery, col(InboundMessage.message_id) == message_id)
            if message_id is not None
            else same_delivery
        )
        statement = select(InboundMessage).where(condition).limit(1)
        return (await self.session.exec(statement)).first()

    async def claim_inbound(self, now: datetime) -> InboundMessage | None:
        """The oldest message due for processing, locked until commit; replicas skip it."""
        statement = (
            select(InboundMessage)
            .where(
                # A literal, for the partial index (see `resolved_before`).
                col(InboundMessage.status) == literal_column("'pending'"),
                col(InboundMessage.next_attempt_at) <= now,
            )
            .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.exec(statement)).first()

    async def ticket_of_mail(self, message_ids: Sequence[str]) -> str | None:
        """The ticket an earlier inbound mail with one of these Message-IDs opened or joined."""
        if not message_ids:
            return None
        statement = (
            select(InboundMessage.ticket_id)
            .where(
                col(InboundMessage.message_id).in_(message_ids),
                col(InboundMessage.ticket_id).is_not(None),
            )
            .limit(1)
        )
        return (await self.session.exec(statement)).first()

    async def agent_by_email(self, email: str) -> Agent | None:
        statement = select(Agent).where(func.lower(col(Agent.email)) == email.lower()).limit(1)
        return (await self.session.exec(statement)).first()

    async def requester_id_for_email(self, email: str) -> str | None:
        """Whom the latest ticket with this requester address was for."""
        statement = (
            select(Ticket.requester_id)
            .where(func.lower(col(Ticket.requester_email)) == email.lower())
            .order_by(col(Ticket.created_at).desc())
            .limit(1)
        )
        return (await self.session.exec(statement)).first()

    async def open_alert_ticket(
        self, integration: str, fingerprint: str
    ) -> tuple[AlertTicket, Ticket] | None:
        """The ticket this alert fires into while it is neither resolved nor closed."""
        statement = (
            select(AlertTicket, Ticket)
            .join(Ticket, col(Ticket.id) == col(AlertTicket.ticket_id))
            .where(
                col(AlertTicket.integration) == integration,
                col(AlertTicket.fingerprint) == fingerprint,
                col(Ticket.status).in_(OPEN_STATUSES),
            )
            .order_by(col(AlertTicket.created_at).desc())
            .limit(1)
        )
        row = (await self.session.exec(statement)).first()
        return (row[0], row[1]) if row is not None else None


@dataclass(frozen=True)
class SummaryCount:
    status: str
    priority: str
    technology_key: str | None
    tickets: int
    under_policy: int
    kept: int
    responded: int  # with a first response
    resolved: int  # with a resolution time (not reopened since)


@dataclass(frozen=True)
class Loss:
    technology_key: str | None
    technology_name: str | None
    vendor: str | None
    tier: str | None
    minutes: int
    tickets: int


@dataclass(frozen=True)
class OpenLoss:
    technology_key: str | None
    technology_name: str | None
    vendor: str | None
    tier: str | None
    sla_policy_id: str | None
    opened_at: datetime
    settled_at: datetime | None


def _median_minutes(rows: Sequence[Any], moment: int) -> float | None:
    values = [
        (row[moment] - row[0]).total_seconds() / 60 for row in rows if row[moment] is not None
    ]
    return statistics.median(values) if values else None


def _opened_between(start: datetime, end: datetime) -> tuple[Any, Any]:
    return col(Ticket.created_at) >= start, col(Ticket.created_at) < end

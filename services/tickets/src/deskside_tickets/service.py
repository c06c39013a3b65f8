"""The rules of the tickets service: who may do what to a ticket, and what it records.

Every change bumps the ticket's `version`, writes its history rows and its
event into the outbox, all in the request's one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from deskside_contracts.common import Role
from deskside_contracts.inventory import SupportTier
from deskside_contracts.paging import Page
from deskside_contracts.tickets import (
    AssignRequest,
    ChangeRead,
    Channel,
    CloseRequest,
    CommentCreate,
    CommentRead,
    EnrichmentStatus,
    EscalationRead,
    EscalationStatus,
    EscalationUpdate,
    EvidenceIn,
    EvidenceRead,
    FaultDomain,
    InteractionCreate,
    InteractionRead,
    InteractionUpdate,
    Level,
    LinkCreate,
    LinkedTicket,
    MergeRequest,
    Person,
    PersonIn,
    Priority,
    ReopenRequest,
    ResolveRequest,
    Satisfaction,
    SatisfactionCreate,
    SuggestedAssignee,
    TechnologySnapshot,
    TicketCreate,
    TicketRead,
    TicketStatus,
    TicketUpdate,
    TierEscalationCreate,
    VendorEscalationCreate,
    VendorRequest,
    WaitingOn,
    WaitRequest,
    WatcherRead,
)
from deskside_kit.auth import Principal
from deskside_kit.database import new_instance, utc_now
from deskside_kit.outbox import record_event
from deskside_kit.paging import PageRequest, build_page
from deskside_kit.problems import Conflict, Forbidden, Unprocessable
from deskside_kit.snapshot import Snapshot
from deskside_kit.versions import require_version
from deskside_tickets import sla
from deskside_tickets.config import TicketsSettings
from deskside_tickets.errors import (
    AlreadyRated,
    InvalidTransition,
    NotFoundOnTicket,
    TicketNotFound,
)
from deskside_tickets.lifecycle import may, priority_for
from deskside_tickets.models import (
    Agent,
    Comment,
    Escalation,
    Evidence,
    Group,
    Interaction,
    Ticket,
    TicketChange,
    TicketLink,
    Watcher,
)
from deskside_tickets.people import agents_to_read
from deskside_tickets.repository import ReferenceNumbers, TicketFilters, TicketRepository
from deskside_tickets.sla import Policy
from deskside_tickets.technologies import Lookup, TechnologyDirectory

logger = logging.getLogger("deskside.tickets")

SOURCE = "tickets"
SYSTEM_ACTOR = "system"


def format_reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


def ticket_to_read(ticket: Ticket, policy: Policy | None, now: datetime) -> TicketRead:
    technology = None
    if ticket.technology_key is not None:
        technology = TechnologySnapshot(
            key=ticket.technology_key,
            name=ticket.technology_name,
            vendor=ticket.technology_vendor,
            support_tier=SupportTier(ticket.technology_tier) if ticket.technology_tier else None,
            guide=ticket.technology_guide,
        )
    return TicketRead(
        id=ticket.id,
        reference=ticket.reference,
        title=ticket.title,
        description=ticket.description,
        status=TicketStatus(ticket.status),
        waiting_on=WaitingOn(ticket.waiting_on) if ticket.waiting_on else None,
        channel=Channel(ticket.channel),
        impact=Level(ticket.impact),
        urgency=Level(ticket.urgency),
        priority=Priority(ticket.priority),
        priority_overridden=ticket.priority_overridden,
        priority_reason=ticket.priority_reason,
        category=ticket.category,
        technology=technology,
        enrichment=EnrichmentStatus(ticket.enrichment),
        device_id=ticket.device_id,
        account_id=ticket.account_id,
        work_stopped=ticket.work_stopped,
        requester=Person(
            id=ticket.requester_id, email=ticket.requester_email, name=ticket.requester_name
        ),
        created_by=ticket.created_by,
        assignee_id=ticket.assignee_id,
        group_id=ticket.group_id,
        resolution=ticket.resolution,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        tier=ticket.tier,
        merged_into_id=ticket.merged_into_id,
        satisfaction=(
            Satisfaction(
                rating=ticket.satisfaction_rating,
                comment=ticket.satisfaction_comment,
                at=ticket.satisfaction_at,
            )
            if ticket.satisfaction_rating is not None and ticket.satisfaction_at is not None
            else None
        ),
        sla=sla.view(ticket, policy, now) if policy is not None else None,
        minutes_lost=sla.minutes_lost(ticket, policy, now),
        version=ticket.version,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )


def comment_to_read(comment: Comment) -> CommentRead:
    return CommentRead(
        id=comment.id,
        ticket_id=comment.ticket_id,
        author=Person(id=comment.author_id, email=comment.author_email, name=comment.author_name),
        body=comment.body,
        internal=comment.internal,
        created_at=comment.created_at,
    )


def _owns(principal: Principal, ticket: Ticket) -> bool:
    # Requesters own tickets raised for them; integrations those they opened.
    return ticket.requester_id == principal.sub or ticket.created_by == principal.sub


def _watcher_to_read(watcher: Watcher) -> WatcherRead:
    return WatcherRead(
        id=watcher.person_id,
        email=watcher.email,
        name=watcher.name,
        added_by=watcher.added_by,
        created_at=watcher.created_at,
    )


def _escalation_to_read(escalation: Escalation, evidence: Sequence[Evidence]) -> EscalationRead:
    return EscalationRead(
        id=escalation.id,
        ticket_id=escalation.ticket_id,
        kind=escalation.kind,
        to_tier=escalation.to_tier,
        reason=escalation.reason,
        fault_domain=FaultDomain(escalation.fault_domain) if escalation.fault_domain else None,
        vendor=escalation.vendor,
        request=VendorRequest(escalation.request) if escalation.request else None,
        vendor_case_ref=escalation.vendor_case_ref,
        status=EscalationStatus(escalation.status),
        evidence=[EvidenceRead.model_validate(item) for item in evidence],
        created_by=escalation.created_by,
        version=escalation.version,
        created_at=escalation.created_at,
        updated_at=escalation.updated_at,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value.value if hasattr(value, "value") else value)


class TicketService:
    def __init__(
        self,
        repository: TicketRepository,
        settings: TicketsSettings,
        directory: TechnologyDirectory | None,
        policy_snapshot: Snapshot[dict[str, KnownPolicy]] | None = None,
        routing_snapshot: Snapshot[dict[int, str]] | None = None,
        reference_numbers: ReferenceNumbers | None = None,
    ) -> None:
        self.repository = repository
        # The app's block of ticket numbers (PostgreSQL); without it, one drawn per create.
        self.reference_numbers = reference_numbers
        self.settings = settings
        self.directory = directory
        # Requests share the app's snapshots of the SLA policies and of the groups
        # that take each tier; background jobs, which make none, read afresh each round.
        self.policy_snapshot = policy_snapshot
        self.routing_snapshot = routing_snapshot
        self._policies: dict[str, KnownPolicy] | None = None
        # Groups read by this request, by id: routing and the event both need the one
        # a new ticket goes to.
        self._groups: dict[str, Group | None] = {}
        # Watchers of the tickets this request changes: their events name them,
        # so notify can send them the public updates.
        self._watchers: dict[str, list[Watcher]] = {}

    # --- reading ------------------------------------------------------------------

    async def get_ticket(self, principal: Principal, ticket_ref: str) -> TicketRead:
        return self._read(await self._visible_ticket(principal, ticket_ref))

    async def list_tickets(
        self, principal: Principal, page: PageRequest, filters: TicketFilters, sort: str
    ) -> Page[TicketRead]:
        if not principal.is_staff:
            # Requesters and integrations list what is theirs, whatever they ask for.
            filters = TicketFilters(**{**filters.__dict__, "visible_to": principal.sub})
        rows = await self.repository.list_page(page, filters, sort)
        await self._load_policies(rows)
        return build_page(
            rows, page, sort_key=lambda t: [_sort_value(t, sort), t.id], to_item=self._read
        )

    async def list_comments(
        self, principal: Principal, ticket_ref: str, page: PageRequest
    ) -> Page[CommentRead]:
        ticket = await self._visible_ticket(principal, ticket_ref)
        rows = await self.repository.comment_page(
            ticket.id, page, include_internal=principal.is_staff
        )
        return build_page(rows, page, sort_key=lambda c: [c.id], to_item=comment_to_read)

    async def history(
        self, principal: Principal, ticket_ref: str, page: PageRequest
    ) -> Page[ChangeRead]:
        ticket = await self._visible_ticket(principal, ticket_ref)
        rows = await self.repository.history_page(
            ticket.id, page, include_internal=principal.is_staff
        )
        return build_page(rows, page, sort_key=lambda c: [c.id], to_item=ChangeRead.model_validate)

    # --- creating -----------------------------------------------------------------

    async def create_ticket(self, principal: Principal, data: TicketCreate) -> TicketRead:
        if data.requester is not None and not principal.has_role(
            Role.AGENT, Role.ADMIN, Role.INTEGRATION
        ):
            raise Forbidden("Only agents and integrations open tickets for someone else.")
        # Asked before the transaction writes anything: a slow inventory then
        # delays this request only, never holds a lock others wait on.
        lookup = await self._look_up(data.technology)
        number = await self.repository.next_reference_number(self.reference_numbers)
        requester = data.requester
        ticket = new_instance(
            Ticket,
            number=number,
            reference=format_reference(self.settings.reference_prefix, number),
            title=data.title,
            description=data.description,
            status=TicketStatus.NEW.value,
            channel=data.channel.value,
            impact=data.impact.value,
            urgency=data.urgency.value,
            priority=priority_for(data.impact, data.urgency).value,
            category=data.category,
            device_id=data.device_id,
            account_id=data.account_id,
            work_stopped=data.work_stopped,
            requester_id=requester.id if requester else principal.sub,
            requester_email=requester.email if requester else principal.email,
            requester_name=requester.name if requester else principal.name,
            created_by=principal.sub,
        )
        _apply_technology(ticket, data.technology, lookup)
        policies = await self._load_policies()
        default = next((p for p in policies.values() if p.is_default), None)
        if default is not None:
            ticket.sla_policy_id = default.policy.id
            sla.schedule(ticket, default.policy)
        ticket.search_text = _search_text(ticket, [])
        # Routing and the event read groups and agents, never the new ticket: no query
        # on the way may flush it. The ticket, its history and its event stay new
        # until the request commits, when they go in one statement with its audit
        # record (the kit's `insert_new`). A caller that adds a row referring to the
        # ticket writes them first (`TicketRepository.insert_new`): the ORM's flush,
        # knowing no relationship between the two, may put that row first.
        with self.repository.session.no_autoflush:
            self.repository.session.add(ticket)
            self._history(ticket, principal.sub, "created")
            await self._route(ticket)
            return await self._emit("ticket.created", ticket)

    async def _look_up(self, key: str | None) -> Lookup | None:
        if key is None or self.directory is None:
            return None
        return await self.directory.look_up(key)

    # --- changing -----------------------------------------------------------------

    async def update_ticket(
        self, principal: Principal, ticket_ref: str, data: TicketUpdate, if_match: str | None
    ) -> TicketRead:
        ticket = await self._own_ticket_for_change(principal, ticket_ref, if_match)
        if TicketStatus(ticket.status) in _FINAL:
            raise InvalidTransition("edit", ticket.status)
        if not principal.is_staff:
            staff_only = {"priority", "impact", "urgency", "category"} & data.model_fields_set
            if staff_only:
                raise Forbidden(f"Only agents change {', '.join(sorted(staff_only))}.")
        changes: dict[str, tuple[Any, Any]] = {}
        for name in ("title", "description", "category", "work_stopped", "impact", "urgency"):
            if name in data.model_fields_set and getattr(data, name) is not None:
                new = getattr(data, name)
                new = new.value if hasattr(new, "value") else new
                if getattr(ticket, name) != new:
                    changes[name] = (getattr(ticket, name), new)
                    setattr(ticket, name, new)
        if data.technology is not None and data.technology != ticket.technology_key:
            changes["technology"] = (ticket.technology_key, data.technology)
            _apply_technology(ticket, data.technology, await self._look_up(data.technology))
        if data.priority is not None:
            changes["priority"] = (ticket.priority, data.priority.value)
            ticket.priority = data.priority.value
            ticket.priority_overridden = True
            ticket.priority_reason = data.priority_reason
        elif {"impact", "urgency"} & changes.keys() and not ticket.priority_overridden:
            computed = priority_for(Level(ticket.impact), Level(ticket.urgency)).value
            if computed != ticket.priority:
                changes["priority"] = (ticket.priority, computed)
                ticket.priority = computed
        if not changes:
            return self._read(ticket)
        if {"title", "description"} & changes.keys():
            await self._reindex(ticket)
        await self._touch(ticket)
        for name, (old, new) in changes.items():
            self._history(ticket, principal.sub, "updated", name, old, new)
        return await self._emit(
            "ticket.updated",
            ticket,
            changes={
                name: {"old": _text(old), "new": _text(new)} for name, (old, new) in changes.items()
            },
        )

    async def assign(
        self, principal: Principal, ticket_ref: str, data: AssignRequest, if_match: str | None
    ) -> TicketRead:
        ticket = await self._staff_change(principal, ticket_ref, if_match, "assign")
        changed = False
        for name, value in (("assignee_id", data.assignee_id), ("group_id", data.group_id)):
            if value is not None and getattr(ticket, name) != value:
                self._history(ticket, principal.sub, "assigned", name, getattr(ticket, name), value)
                setattr(ticket, name, value)
                changed = True
        if not changed:
            return self._read(ticket)
        await self._touch(ticket)
        return await self._emit("ticket.assigned", ticket)

    async def start(
        self, principal: Principal, ticket_ref: str, if_match: str | None
    ) -> TicketRead:
        ticket = await self._staff_change(principal, ticket_ref, if_match, "start")
        old = await self._set_status(ticket, principal.sub, TicketStatus.IN_PROGRESS)
        return await self._emit("ticket.updated", ticket, changes=_status_change(old, ticket))

    async def wait(
        self, principal: Principal, ticket_ref: str, data: WaitRequest, if_match: str | None
    ) -> TicketRead:
        ticket = await self._staff_change(principal, ticket_ref, if_match, "wait")
        target = (
            TicketStatus.WAITING_ON_REQUESTER
            if data.on is WaitingOn.REQUESTER
            else TicketStatus.WAITING_ON_VENDOR
        )
        if ticket.status == target.value:
            raise InvalidTransition(f"wait on {data.on.value} for", ticket.status)
        old = await self._set_status(ticket, principal.sub, target)
        ticket.waiting_on = data.on.value
        return await self._emit("ticket.updated", ticket, changes=_status_change(old, ticket))

    async def resolve(
        self, principal: Principal, ticket_ref: str, data: ResolveRequest, if_match: str | None
    ) -> TicketRead:
        ticket = await self._staff_change(principal, ticket_ref, if_match, "resolve")
        await self._set_status(ticket, principal.sub, TicketStatus.RESOLVED)
        ticket.resolution = data.resolution
        ticket.resolved_at = ticket.updated_at
        self._history(ticket, principal.sub, "resolved", "resolution", None, data.resolution)
        return await self._emit("ticket.resolved", ticket)

    async def close(
        self, principal: Principal, ticket_ref: str, data: CloseRequest, if_match: str | None
    ) -> TicketRead:
        ticket = await self._own_ticket_for_change(principal, ticket_ref, if_match)
        # Requesters may confirm a resolution by closing; anything else is the desk's call.
        if not principal.is_staff and ticket.status != TicketStatus.RESOLVED.value:
            if ticket.status == TicketStatus.CLOSED.value:
                raise InvalidTransition("close", ticket.status)
            raise Forbidden("Only agents close a ticket that is not resolved.")
        self._check("close", ticket)
        await self._close(ticket, principal.sub, data.reason)
        return await self._emit("ticket.closed", ticket)

    async def reopen(
        self, principal: Principal, ticket_ref: str, data: ReopenRequest, if_match: str | None
    ) -> TicketRead:
        ticket = await self._own_ticket_for_change(principal, ticket_ref, if_match)
        self._check("reopen", ticket)
        if ticket.status == TicketStatus.CLOSED.value:
            window = timedelta(days=self.settings.reopen_window_days)
            if ticket.closed_at is None or utc_now() - ticket.closed_at > window:
                raise InvalidTransition(
                    f"reopen (closed over {self.settings.reopen_window_days} days ago)",
                    ticket.status,
                )
        await self._set_status(ticket, principal.sub, TicketStatus.IN_PROGRESS)
        # The old resolution did not hold; the history keeps its text.
        ticket.resolution = None
        ticket.resolved_at = None
        ticket.closed_at = None
        self._history(ticket, principal.sub, "reopened", "reason", None, data.reason)
        return await self._emit("ticket.reopened", ticket, reason=data.reason)

    async def add_comment(
        self, principal: Principal, ticket_ref: str, data: CommentCreate
    ) -> CommentRead:
        ticket = await self._visible_ticket(principal, ticket_ref, for_update=True)
        if data.internal and not principal.is_staff:
            raise Forbidden("Only agents write internal notes.")
        if ticket.status == TicketStatus.CLOSED.value:
            raise InvalidTransition("comment on", ticket.status)
        comment = new_instance(
            Comment,
            ticket_id=ticket.id,
            author_id=principal.sub,
            author_email=principal.email,
            author_name=principal.name,
            body=data.body,
            internal=data.internal,
        )
        await self.repository.add(comment)
        if not data.internal:
            await self._reindex(ticket)
        if not data.internal and principal.is_staff and principal.sub != ticket.requester_id:
            self._first_response(ticket, comment.created_at)
        await self._touch(ticket)
        self._history(
            ticket, principal.sub, "commented", "comment", None, comment.id, internal=data.internal
        )
        read = comment_to_read(comment)
        if not data.internal:
            # Internal notes stay inside the desk: no event, so no email or webhook.
            await self._emit("ticket.commented", ticket, comment=read.model_dump(mode="json"))
        return read

    # --- help given -----------------------------------------------------------------

    async def log_interaction(
        self, principal: Principal, ticket_ref: str, data: InteractionCreate
    ) -> InteractionRead:
        ticket = await self._staff_ticket(principal, ticket_ref, "log help on")
        if ticket.status == TicketStatus.CLOSED.value:
            raise InvalidTransition("log an interaction on", ticket.status)
        interaction = Interaction(ticket_id=ticket.id, agent_id=principal.sub, **data.model_dump())
        await self.repository.add(interaction)
        if data.scheduled_for is None:  # booked help is not help given yet
            self._first_response(ticket, interaction.created_at)
        await self._touch(ticket)
        self._history(
            ticket, principal.sub, "interaction_logged", "interaction", None, interaction.id
        )
        read = InteractionRead.model_validate(interaction)
        await self._emit(
            "ticket.interaction_logged", ticket, interaction=read.model_dump(mode="json")
        )
        return read

    async def list_interactions(
        self, principal: Principal, ticket_ref: str, page: PageRequest
    ) -> Page[InteractionRead]:
        ticket = await self._visible_ticket(principal, ticket_ref)
        rows = await self.repository.interaction_page(ticket.id, page)
        return build_page(
            rows, page, sort_key=lambda i: [i.id], to_item=InteractionRead.model_validate
        )

    async def update_interaction(
        self,
        principal: Principal,
        ticket_ref: str,
        interaction_id: str,
        data: InteractionUpdate,
        if_match: str | None,
    ) -> InteractionRead:
        ticket = await self._staff_ticket(principal, ticket_ref, "reschedule help on")
        interaction = await self.repository.interaction(ticket.id, interaction_id)
        if interaction is None:
            raise NotFoundOnTicket("interaction", interaction_id)
        require_version(if_match, interaction.version)
        changed = False
        for name, value in data.model_dump(exclude_unset=True).items():
            if getattr(interaction, name) != value:
                self._history(
                    ticket,
                    principal.sub,
                    "interaction_updated",
                    name,
                    getattr(interaction, name),
                    value,
                )
                setattr(interaction, name, value)
                changed = True
        if changed:
            interaction.version += 1
            interaction.updated_at = utc_now()
            await self._touch(ticket)
            read = InteractionRead.model_validate(interaction)
            await self._emit("ticket.updated", ticket, interaction=read.model_dump(mode="json"))
        return InteractionRead.model_validate(interaction)

    async def add_watcher(
        self, principal: Principal, ticket_ref: str, data: PersonIn
    ) -> WatcherRead:
        ticket = await self._visible_ticket(principal, ticket_ref, for_update=True)
        if not (principal.is_staff or ticket.requester_id == principal.sub):
            raise Forbidden("Only agents and the requester copy people on a ticket.")
        if await self.repository.is_watching(ticket.id, data.id):
            raise Conflict(f"{data.id} already watches this ticket.")
        watcher = Watcher(
            ticket_id=ticket.id,
            person_id=data.id,
            email=data.email,
            name=data.name,
            added_by=principal.sub,
        )
        await self.repository.add(watcher)
        self._watchers.setdefault(ticket.id, []).append(watcher)
        await self._touch(ticket)
        self._history(ticket, principal.sub, "watcher_added", "watchers", None, data.id)
        await self._emit(
            "ticket.updated", ticket, changes={"watchers": {"old": None, "new": data.id}}
        )
        return _watcher_to_read(watcher)

    async def list_watchers(self, principal: Principal, ticket_ref: str) -> list[WatcherRead]:
        ticket = await self._visible_ticket(principal, ticket_ref)
        return [_watcher_to_read(watcher) for watcher in await self.repository.watchers(ticket.id)]

    async def remove_watcher(self, principal: Principal, ticket_ref: str, person_id: str) -> None:
        ticket = await self._visible_ticket(principal, ticket_ref, for_update=True)
        if not (
            principal.is_staff or ticket.requester_id == principal.sub or person_id == principal.sub
        ):
            raise Forbidden("Only agents, the requester or the watcher themself remove a watcher.")
        if not await self.repository.remove_watcher(ticket.id, person_id):
            raise NotFoundOnTicket("watcher", person_id)
        self._watchers[ticket.id] = [
            watcher for watcher in self._watchers[ticket.id] if watcher.person_id != person_id
        ]
        await self._touch(ticket)
        self._history(ticket, principal.sub, "watcher_removed", "watchers", person_id, None)

    async def link(
        self, principal: Principal, ticket_ref: str, data: LinkCreate
    ) -> list[LinkedTicket]:
        ticket = await self._staff_ticket(principal, ticket_ref, "link")
        other = await self._visible_ticket(principal, data.ticket)
        if other.id == ticket.id:
            raise Unprocessable("A ticket cannot be linked to itself.")
        first, second = sorted((ticket.id, other.id))
        if not await self.repository.link_exists(first, second):
            await self.repository.add(
                TicketLink(first_id=first, second_id=second, created_by=principal.sub)
            )
            await self._touch(ticket)
            self._history(ticket, principal.sub, "linked", "links", None, other.reference)
            await self._emit(
                "ticket.updated", ticket, changes={"links": {"old": None, "new": other.id}}
            )
        return await self.links(principal, ticket_ref)

    async def links(self, principal: Principal, ticket_ref: str) -> list[LinkedTicket]:
        ticket = await self._visible_ticket(principal, ticket_ref)
        linked = await self.repository.linked_tickets(ticket.id)
        return [
            LinkedTicket.model_validate(other)
            for other in linked
            if principal.is_staff or _owns(principal, other)
        ]

    async def merge(
        self, principal: Principal, ticket_ref: str, data: MergeRequest, if_match: str | None
    ) -> TicketRead:
        """Merge this ticket (a duplicate) into `data.into`; returns the survivor."""
        duplicate = await self._staff_ticket(principal, ticket_ref, "merge", if_match=if_match)
        survivor = await self._visible_ticket(principal, data.into, for_update=True)
        if survivor.id == duplicate.id:
            raise Unprocessable("A ticket cannot be merged into itself.")
        for ticket in (duplicate, survivor):
            if ticket.status == TicketStatus.CLOSED.value:
                raise InvalidTransition(f"merge {ticket.reference}: it", ticket.status)
        moved = await self.repository.move_comments(duplicate.id, survivor.id)
        await self._reindex(survivor)
        await self._reindex(duplicate)
        # The duplicate's requester keeps following their problem on the survivor.
        if duplicate.requester_id != survivor.requester_id and not (
            await self.repository.is_watching(survivor.id, duplicate.requester_id)
        ):
            await self.repository.add(
                Watcher(
                    ticket_id=survivor.id,
                    person_id=duplicate.requester_id,
                    email=duplicate.requester_email,
                    name=duplicate.requester_name,
                    added_by=principal.sub,
                )
            )
        await self._close(duplicate, principal.sub, f"merged into {survivor.reference}")
        duplicate.merged_into_id = survivor.id
        duplicate.resolution = f"Merged into {survivor.reference}."
        self._history(duplicate, principal.sub, "merged", "merged_into", None, survivor.reference)
        await self._touch(survivor)
        self._history(survivor, principal.sub, "merged", "merged_from", None, duplicate.reference)
        await self._emit("ticket.closed", duplicate, merged_into=survivor.id)
        return await self._emit(
            "ticket.updated", survivor, merged_from=duplicate.id, comments_moved=moved
        )

    async def rate(
        self, principal: Principal, ticket_ref: str, data: SatisfactionCreate
    ) -> TicketRead:
        ticket = await self._visible_ticket(principal, ticket_ref, for_update=True)
        if ticket.requester_id != principal.sub:
            raise Forbidden("Only the requester rates the help they got.")
        if ticket.status not in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value):
            raise InvalidTransition("rate", ticket.status)
        if ticket.satisfaction_rating is not None:
            raise AlreadyRated()
        ticket.satisfaction_rating = data.rating
        ticket.satisfaction_comment = data.comment
        ticket.satisfaction_at = utc_now()
        await self._touch(ticket)
        self._history(ticket, principal.sub, "rated", "satisfaction", None, data.rating)
        return await self._emit(
            "ticket.updated", ticket, changes={"satisfaction": {"old": None, "new": data.rating}}
        )

    # --- escalation -------------------------------------------------------------------

    async def escalate(
        self,
        principal: Principal,
        ticket_ref: str,
        data: TierEscalationCreate | VendorEscalationCreate,
        if_match: str | None,
    ) -> EscalationRead:
        ticket = await self._staff_ticket(principal, ticket_ref, "escalate", if_match=if_match)
        if TicketStatus(ticket.status) in _FINAL:
            raise InvalidTransition("escalate", ticket.status)
        if isinstance(data, TierEscalationCreate):
            if data.to_tier <= ticket.tier:
                raise Conflict(
                    f"The ticket is already at tier {ticket.tier}; escalate to a higher tier.",
                    current_tier=ticket.tier,
                )
            escalation = Escalation(
                ticket_id=ticket.id,
                kind="tier",
                to_tier=data.to_tier,
                reason=data.reason,
                fault_domain=data.fault_domain.value,
                created_by=principal.sub,
            )
            self._history(ticket, principal.sub, "escalated", "tier", ticket.tier, data.to_tier)
            ticket.tier = data.to_tier
            # The next tier's group picks it up; the current assignee lets go.
            ticket.group_id = None
            if ticket.assignee_id is not None:
                self._history(
                    ticket, principal.sub, "escalated", "assignee_id", ticket.assignee_id, None
                )
                ticket.assignee_id = None
        else:
            escalation = Escalation(
                ticket_id=ticket.id,
                kind="vendor",
                vendor=data.vendor,
                request=data.request.value,
                vendor_case_ref=data.vendor_case_ref,
                reason=data.reason,
                fault_domain=data.fault_domain.value,
                created_by=principal.sub,
            )
            if ticket.status != TicketStatus.WAITING_ON_VENDOR.value:
                await self._set_status(ticket, principal.sub, TicketStatus.WAITING_ON_VENDOR)
                ticket.waiting_on = WaitingOn.VENDOR.value
        await self.repository.add(escalation)
        evidence = await self._add_evidence(escalation, data.evidence)
        if ticket.group_id is None:
            await self._route(ticket)
        await self._touch(ticket)
        read = _escalation_to_read(escalation, evidence)
        await self._emit("ticket.escalated", ticket, escalation=read.model_dump(mode="json"))
        return read

    async def list_escalations(self, principal: Principal, ticket_ref: str) -> list[EscalationRead]:
        ticket = await self._staff_ticket(principal, ticket_ref, "read escalations of")
        return [
            _escalation_to_read(escalation, evidence)
            for escalation, evidence in await self.repository.escalations(ticket.id)
        ]

    async def update_escalation(
        self,
        principal: Principal,
        ticket_ref: str,
        escalation_id: str,
        data: EscalationUpdate,
        if_match: str | None,
    ) -> EscalationRead:
        ticket = await self._staff_ticket(principal, ticket_ref, "update escalations of")
        found = await self.repository.escalation(ticket.id, escalation_id)
        if found is None:
            raise NotFoundOnTicket("escalation", escalation_id)
        escalation, evidence = found
        require_version(if_match, escalation.version)
        if escalation.kind != "vendor" and data.status is not None:
            raise Unprocessable("Only vendor escalations have a status to update.")
        if data.status is not None and data.status.value != escalation.status:
            self._history(
                ticket,
                principal.sub,
                "escalation_updated",
                "escalation_status",
                escalation.status,
                data.status.value,
            )
            escalation.status = data.status.value
            # The vendor answered: the desk has work to do again.
            if (
                data.status is EscalationStatus.ANSWERED
                and ticket.status == TicketStatus.WAITING_ON_VENDOR.value
            ):
                await self._set_status(ticket, principal.sub, TicketStatus.IN_PROGRESS)
        if data.vendor_case_ref is not None:
            escalation.vendor_case_ref = data.vendor_case_ref
        evidence += await self._add_evidence(escalation, data.evidence)
        escalation.version += 1
        escalation.updated_at = utc_now()
        await self._touch(ticket)
        read = _escalation_to_read(escalation, evidence)
        await self._emit("ticket.updated", ticket, escalation=read.model_dump(mode="json"))
        return read

    async def _add_evidence(
        self, escalation: Escalation, items: Sequence[EvidenceIn]
    ) -> list[Evidence]:
        rows = [
            Evidence(
                escalation_id=escalation.id,
                kind=item.kind.value,
                title=item.title,
                url=item.url,
                content=item.content,
            )
            for item in items
        ]
        for row in rows:
            self.repository.session.add(row)
        await self.repository.session.flush()
        return rows

    # --- routing --------------------------------------------------------------------

    async def suggested_assignees(
        self, principal: Principal, ticket_ref: str
    ) -> list[SuggestedAssignee]:
        ticket = await self._visible_ticket(principal, ticket_ref)
        if not principal.is_staff:
            raise Forbidden("Only agents see suggested assignees.")
        return await self._suggestions(ticket)

    async def _suggestions(self, ticket: Ticket) -> list[SuggestedAssignee]:
        """Agents of the ticket's group (else its tier's), trained ones first, then least busy."""
        group_id = ticket.group_id
        if group_id is None:
            tier_group = await self._group_taking(ticket.tier)
            if tier_group is None:
                return []
            group_id = tier_group.id
        members = await self.repository.group_members(group_id)
        counts = await self.repository.open_ticket_counts([agent.id for agent in members])
        reads = {agent.id: agent for agent in await agents_to_read(self.repository, members)}

        def rank(agent: Agent) -> tuple[bool, int, str, str]:
            trained = ticket.technology_key in agent.skills
            return (not trained, counts[agent.id], agent.name, agent.id)

        return [
            SuggestedAssignee(
                agent=reads[agent.id],
                trained=ticket.technology_key in agent.skills,
                open_tickets=counts[agent.id],
            )
            for agent in sorted(members, key=rank)
        ]

    async def _route(self, ticket: Ticket) -> None:
        """Send the ticket to its tier's group, and to its best agent if the group says so."""
        group = await self._group_taking(ticket.tier)
        if group is None:
            return
        self._history(ticket, SYSTEM_ACTOR, "routed", "group_id", ticket.group_id, group.id)
        ticket.group_id = group.id
        if group.auto_assign and ticket.assignee_id is None:
            suggestions = await self._suggestions(ticket)
            if suggestions:
                chosen = suggestions[0].agent.id
                self._history(ticket, SYSTEM_ACTOR, "assigned", "assignee_id", None, chosen)
                ticket.assignee_id = chosen

    async def _group_taking(self, tier: int) -> Group | None:
        """The group that takes the tier's new tickets: the first of that tier by name."""
        group_id = (await self._routes()).get(tier)
        group = await self._group(group_id) if group_id is not None else None
        stale = group_id is not None and (group is None or group.tier != tier)
        if stale and self.routing_snapshot is not None:
            # Deleted or moved to another tier through another replica since the snapshot
            # was taken: read again rather than send the ticket where it no longer goes.
            self.routing_snapshot.invalidate()
            group_id = (await self._routes()).get(tier)
            group = await self._group(group_id) if group_id is not None else None
        return group

    async def _routes(self) -> dict[int, str]:
        # Every create routes; finding the group that takes a tier cost a create about a
        # tenth of its CPU, for a table that changes a few times a year. The snapshot
        # keeps only the choice; the group itself is read by id, once per request.
        if self.routing_snapshot is None:
            return await self._read_routes()
        return await self.routing_snapshot.get(self._read_routes)

    async def _read_routes(self) -> dict[int, str]:
        routes: dict[int, str] = {}
        for group in await self.repository.groups():  # by name: the first one takes the tier
            routes.setdefault(group.tier, group.id)
        return routes

    async def _group(self, group_id: str) -> Group | None:
        if group_id not in self._groups:
            self._groups[group_id] = await self.repository.group(group_id)
        return self._groups[group_id]

    # --- background jobs ----------------------------------------------------------

    async def close_resolved(self, now: datetime, limit: int = 100) -> int:
        """Close tickets resolved more than `auto_close_days` ago; returns how many."""
        cutoff = now - timedelta(days=self.settings.auto_close_days)
        await self._load_policies()
        tickets = await self.repository.resolved_before(cutoff, limit)
        for ticket in tickets:
            await self._close(ticket, SYSTEM_ACTOR, "closed automatically after resolution")
            await self._emit("ticket.closed", ticket)
        return len(tickets)

    async def check_slas(self, now: datetime, limit: int = 200) -> int:
        """Announce SLA warnings and breaches that have come due; returns how many."""
        await self._load_policies()
        announced = 0
        for ticket in await self.repository.due_for_sla_check(now, limit):
            announced += await self._refresh_sla(ticket)
        return announced

    async def enrich_pending(self, limit: int = 50) -> int:
        """Fill in the technology snapshots inventory could not give at creation."""
        await self._load_policies()
        tickets = await self.repository.pending_enrichment(limit)
        enriched = 0
        for ticket in tickets:
            assert ticket.technology_key is not None
            lookup = await self._look_up(ticket.technology_key)
            if lookup is None:
                break  # inventory still does not answer: try again next round
            _apply_technology(ticket, ticket.technology_key, lookup)
            await self._touch(ticket)
            self._history(
                ticket, SYSTEM_ACTOR, "enriched", "enrichment", "pending", ticket.enrichment
            )
            changes = {"enrichment": {"old": "pending", "new": ticket.enrichment}}
            await self._emit("ticket.updated", ticket, changes=changes)
            enriched += 1
        return enriched

    # --- helpers ------------------------------------------------------------------

    async def _visible_ticket(
        self, principal: Principal, ticket_ref: str, *, for_update: bool = False
    ) -> Ticket:
        ticket = await self.repository.find(ticket_ref, for_update=for_update)
        # Someone else's ticket answers exactly like a missing one: its
        # existence is not the caller's to learn.
        if ticket is None:
            raise TicketNotFound(ticket_ref)
        await self._load_policies([ticket])
        if for_update:
            self._watchers[ticket.id] = list(await self.repository.watchers(ticket.id))
        if principal.is_staff or _owns(principal, ticket):
            return ticket
        if for_update:
            watching = any(w.person_id == principal.sub for w in self._watchers[ticket.id])
        else:
            watching = await self.repository.is_watching(ticket.id, principal.sub)
        if watching:
            return ticket
        raise TicketNotFound(ticket_ref)

    async def _ticket_for_change(
        self, principal: Principal, ticket_ref: str, if_match: str | None
    ) -> Ticket:
        ticket = await self._visible_ticket(principal, ticket_ref, for_update=True)
        require_version(if_match, ticket.version)
        return ticket

    async def _own_ticket_for_change(
        self, principal: Principal, ticket_ref: str, if_match: str | None
    ) -> Ticket:
        """For changes the desk or the ticket's own requester may make, but not its watchers."""
        ticket = await self._ticket_for_change(principal, ticket_ref, if_match)
        if not (principal.is_staff or _owns(principal, ticket)):
            raise Forbidden("Watchers follow a ticket; only its requester and the desk change it.")
        return ticket

    async def _staff_ticket(
        self,
        principal: Principal,
        ticket_ref: str,
        action: str,
        *,
        if_match: str | None = None,
    ) -> Ticket:
        ticket = await self._ticket_for_change(principal, ticket_ref, if_match)
        if not principal.is_staff:
            raise Forbidden(f"Only agents {action} tickets.")
        return ticket

    async def _staff_change(
        self, principal: Principal, ticket_ref: str, if_match: str | None, action: str
    ) -> Ticket:
        ticket = await self._ticket_for_change(principal, ticket_ref, if_match)
        if not principal.is_staff:
            raise Forbidden(f"Only agents {action} tickets.")
        self._check(action, ticket)
        return ticket

    def _check(self, action: str, ticket: Ticket) -> None:
        if not may(action, TicketStatus(ticket.status)):
            raise InvalidTransition(action, ticket.status)

    async def _set_status(self, ticket: Ticket, actor: str, status: TicketStatus) -> str:
        """Move the ticket to `status`; returns the status it had."""
        old = ticket.status
        now = utc_now()
        self._history(ticket, actor, "status_changed", "status", old, status.value)
        ticket.status = status.value
        if status not in (TicketStatus.WAITING_ON_REQUESTER, TicketStatus.WAITING_ON_VENDOR):
            ticket.waiting_on = None
        policy = self._policy(ticket)
        if policy is not None:
            sla.status_changed(ticket, policy, old, status.value, now)
        await self._touch(ticket, now)
        return old

    async def _close(self, ticket: Ticket, actor: str, reason: str | None) -> None:
        await self._set_status(ticket, actor, TicketStatus.CLOSED)
        ticket.closed_at = ticket.updated_at
        if reason:
            self._history(ticket, actor, "closed", "reason", None, reason)

    async def _touch(self, ticket: Ticket, now: datetime | None = None) -> None:
        """A change: bump the version, and bring the SLA clocks up to date."""
        ticket.version += 1
        ticket.updated_at = now or utc_now()
        await self._refresh_sla(ticket)

    async def _refresh_sla(self, ticket: Ticket) -> int:
        """Announce thresholds crossed by now and reschedule the next check."""
        policy = self._policy(ticket)
        if policy is None:
            return 0
        crossed = sla.crossed_thresholds(ticket, policy, utc_now())
        for event_type, clock in crossed:
            await self._emit(event_type, ticket, clock=clock)
        sla.schedule(ticket, policy)
        return len(crossed)

    async def _reindex(self, ticket: Ticket) -> None:
        public = await self.repository.comments(ticket.id, include_internal=False)
        ticket.search_text = _search_text(ticket, [comment.body for comment in public])

    def _first_response(self, ticket: Ticket, at: datetime) -> None:
        if ticket.first_response_at is not None:
            return
        ticket.first_response_at = at
        policy = self._policy(ticket)
        if policy is not None:
            sla.first_response_given(ticket, policy, at)

    async def _load_policies(self, tickets: Sequence[Ticket] = ()) -> dict[str, KnownPolicy]:
        # Once per request: there are a handful of policies, and every ticket
        # shown or changed needs its own.
        if self._policies is None:
            if self.policy_snapshot is None:
                self._policies = await self._read_policies()
            else:
                self._policies = await self.policy_snapshot.get(self._read_policies)
        if self.policy_snapshot is not None and any(
            ticket.sla_policy_id not in (None, *self._policies) for ticket in tickets
        ):
            # A policy made through another replica since the snapshot was taken.
            self.policy_snapshot.invalidate()
            self._policies = await self._read_policies()
        return self._policies

    async def _read_policies(self) -> dict[str, KnownPolicy]:
        return {
            row.id: KnownPolicy(Policy.from_row(row), row.is_default)
            for row in await self.repository.policies()
        }

    def _policy(self, ticket: Ticket) -> Policy | None:
        if ticket.sla_policy_id is None or self._policies is None:
            return None
        known = self._policies.get(ticket.sla_policy_id)
        return known.policy if known is not None else None

    def _read(self, ticket: Ticket) -> TicketRead:
        return ticket_to_read(ticket, self._policy(ticket), utc_now())

    def _history(
        self,
        ticket: Ticket,
        actor: str,
        action: str,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        *,
        internal: bool = False,
    ) -> None:
        self.repository.session.add(
            new_instance(
                TicketChange,
                ticket_id=ticket.id,
                actor=actor,
                action=action,
                field=field,
                old=_text(old),
                new=_text(new),
                internal=internal,
            )
        )

    async def _emit(self, event_type: str, ticket: Ticket, **data: Any) -> TicketRead:
        # Every change of a ticket ends here, after its status and dates are set.
        sla.settle_minutes_lost(ticket, self._policy(ticket))
        read = self._read(ticket)
        record_event(
            self.repository.session,
            source=SOURCE,
            type=event_type,
            subject=ticket.id,
            data={
                "ticket": read.model_dump(mode="json"),
                "watchers": [
                    _watcher_to_read(watcher).model_dump(
                        mode="json", include={"id", "email", "name"}
                    )
                    for watcher in self._watchers.get(ticket.id, [])
                ],
                # Who works it, with their addresses: notify mails them from the event alone.
                "assignee": await self._assignee_of(ticket),
                "group": await self._group_of(ticket),
                **data,
            },
        )
        return read

    async def _assignee_of(self, ticket: Ticket) -> dict[str, Any] | None:
        if ticket.assignee_id is None:
            return None
        agent = await self.repository.agent(ticket.assignee_id)
        if agent is None:
            return {"id": ticket.assignee_id, "name": None, "email": None}
        return {"id": agent.id, "name": agent.name, "email": agent.email}

    async def _group_of(self, ticket: Ticket) -> dict[str, Any] | None:
        if ticket.group_id is None:
            return None
        group = await self._group(ticket.group_id)
        if group is None:
            return None
        members = await self.repository.group_members(group.id)
        return {
            "id": group.id,
            "name": group.name,
            "email": group.email,
            "tier": group.tier,
            "members": [
                {"id": agent.id, "name": agent.name, "email": agent.email}
                for agent in members
                if agent.active
            ],
        }


_FINAL = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class KnownPolicy:
    policy: Policy
    is_default: bool


def _search_text(ticket: Ticket, public_comments: Sequence[str]) -> str:
    # Internal notes are never searchable: a requester's search must not reveal them.
    return "\n".join([ticket.title, ticket.description, *public_comments])


def _sort_value(ticket: Ticket, sort: str) -> Any:
    name = sort.lstrip("-")
    if name == "due":
        return ticket.sla_resolution_due_at or _FAR_FUTURE
    return getattr(ticket, name)


def _status_change(old: str, ticket: Ticket) -> dict[str, dict[str, str]]:
    return {"status": {"old": old, "new": ticket.status}}


def _apply_technology(ticket: Ticket, key: str | None, lookup: Lookup | None) -> None:
    ticket.technology_key = key
    ticket.technology_name = ticket.technology_vendor = None
    ticket.technology_tier = ticket.technology_guide = None
    if key is None:
        ticket.enrichment = EnrichmentStatus.NONE.value
    elif lookup is None:
        ticket.enrichment = EnrichmentStatus.PENDING.value
    elif lookup.snapshot is None:
        ticket.enrichment = EnrichmentStatus.UNKNOWN_TECHNOLOGY.value
    else:
        snapshot = lookup.snapshot
        ticket.enrichment = EnrichmentStatus.DONE.value
        ticket.technology_name = snapshot.name
        ticket.technology_vendor = snapshot.vendor
        ticket.technology_tier = snapshot.support_tier.value if snapshot.support_tier else None
        ticket.technology_guide = snapshot.guide

"""HTTP handlers of the tickets service: validate, call the service, return a contract."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response, status
from pydantic import BaseModel

from deskside_contracts.common import UtcDateTime
from deskside_contracts.paging import Page
from deskside_contracts.tickets import (
    AgentPut,
    AgentRead,
    AlertmanagerWebhook,
    AssignRequest,
    ChangeRead,
    CloseRequest,
    CommentCreate,
    CommentRead,
    EscalationRead,
    EscalationUpdate,
    GroupCreate,
    GroupRead,
    GroupUpdate,
    InboundAccepted,
    InboundEmail,
    InboundRead,
    InboundStatus,
    InteractionCreate,
    InteractionRead,
    InteractionUpdate,
    LinkCreate,
    LinkedTicket,
    MergeRequest,
    PersonIn,
    Priority,
    ProductivityReport,
    ReopenRequest,
    ResolveRequest,
    SatisfactionCreate,
    SimpleAlert,
    SkillGap,
    SlaPolicyCreate,
    SlaPolicyRead,
    SlaPolicyUpdate,
    SuggestedAssignee,
    SummaryReport,
    TicketCreate,
    TicketRead,
    TicketStatus,
    TicketUpdate,
    TierEscalationCreate,
    VendorEscalationCreate,
    WaitRequest,
    WatcherRead,
)
from deskside_kit.database import utc_now
from deskside_kit.idempotency import (
    IdempotencyDep,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
)
from deskside_kit.paging import PageParams
from deskside_kit.problems import (
    Conflict,
    Forbidden,
    NotAuthenticated,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    problem_responses,
)
from deskside_kit.tabular import ReportFormat
from deskside_kit.tags import Tag
from deskside_kit.versions import IfMatch, StaleVersion, etag
from deskside_tickets.deps import (
    Admin,
    Inbound,
    People,
    Policies,
    Reports,
    Signed,
    Staff,
    Tickets,
    TicketUser,
)
from deskside_tickets.errors import (
    AgentNotFound,
    AlreadyRated,
    GroupNotFound,
    InvalidTransition,
    NotFoundOnTicket,
    SlaPolicyNotFound,
    TicketNotFound,
)
from deskside_tickets.inbound import (
    ALERT,
    EMAIL,
    InboundNotFound,
    InboundProcessor,
)
from deskside_tickets.reports import PRODUCTIVITY_TABLE, SKILLS_TABLE, SUMMARY_TABLE
from deskside_tickets.repository import TicketFilters

# Tagged per route: comments, interactions and escalations are resources of their own.
router = APIRouter(prefix="/v1/tickets")

TicketRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The ticket's id (`tkt_…`) or its reference (`SD-000042`).",
    ),
]
Sort = Literal[
    "-created_at", "created_at", "-updated_at", "updated_at", "priority", "-priority", "due"
]
CHANGE_ERRORS = problem_responses(Forbidden, TicketNotFound, InvalidTransition, StaleVersion)


def _with_etag(response: Response, ticket: TicketRead) -> TicketRead:
    response.headers["ETag"] = etag(ticket.version)
    return ticket


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    # A replay returns the stored response as it was; the model documents both.
    response_model=TicketRead,
    responses=problem_responses(Forbidden, IdempotencyKeyReused, IdempotencyKeyInFlight),
    summary="Open a ticket: the caller gets its reference number at once",
    operation_id="createTicket",
    tags=[Tag.TICKETS],
)
async def create_ticket(
    data: TicketCreate,
    principal: TicketUser,
    tickets: Tickets,
    idempotency: IdempotencyDep,
    response: Response,
) -> TicketRead | Response:
    replay = await idempotency.claim(data)
    if replay is not None:
        return replay
    ticket = await tickets.create_ticket(principal, data)
    response.headers["Location"] = f"/v1/tickets/{ticket.reference}"
    _with_etag(response, ticket)
    await idempotency.remember(status.HTTP_201_CREATED, ticket, dict(response.headers))
    return ticket


@router.get(
    "",
    responses=problem_responses(Forbidden),
    summary="Find tickets",
    operation_id="listTickets",
    tags=[Tag.TICKETS],
)
async def list_tickets(
    principal: TicketUser,
    tickets: Tickets,
    page: PageParams,
    status_: Annotated[
        list[TicketStatus] | None, Query(alias="status", description="Repeatable.")
    ] = None,
    priority: Annotated[list[Priority] | None, Query(description="Repeatable.")] = None,
    assignee: Annotated[str | None, Query(max_length=255)] = None,
    group: Annotated[str | None, Query(max_length=64)] = None,
    requester: Annotated[str | None, Query(max_length=255)] = None,
    technology: Annotated[str | None, Query(max_length=64)] = None,
    created_after: UtcDateTime | None = None,
    created_before: UtcDateTime | None = None,
    updated_after: UtcDateTime | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200, description="Words to find in title, description and public replies."
        ),
    ] = None,
    breached: Annotated[
        bool | None, Query(description="Only tickets whose SLA is (or is not) breached.")
    ] = None,
    sort: Annotated[Sort, Query(description="Field to sort by; `-` for descending.")] = (
        "-created_at"
    ),
) -> Page[TicketRead]:
    filters = TicketFilters(
        statuses=[s.value for s in status_ or []],
        priorities=[p.value for p in priority or []],
        assignee_id=assignee,
        group_id=group,
        requester_id=requester,
        technology_key=technology,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        breached=breached,
        q=q.strip() if q and q.strip() else None,
    )
    return await tickets.list_tickets(principal, page, filters, sort)


@router.get(
    "/{ticket_ref}",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Read a ticket by id or by reference",
    operation_id="getTicket",
    tags=[Tag.TICKETS],
)
async def get_ticket(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets, response: Response
) -> TicketRead:
    return _with_etag(response, await tickets.get_ticket(principal, ticket_ref))


@router.patch(
    "/{ticket_ref}",
    responses=CHANGE_ERRORS,
    summary="Change a ticket's fields",
    operation_id="updateTicket",
    tags=[Tag.TICKETS],
)
async def update_ticket(
    ticket_ref: TicketRef,
    data: TicketUpdate,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    ticket = await tickets.update_ticket(principal, ticket_ref, data, if_match)
    return _with_etag(response, ticket)


@router.post(
    "/{ticket_ref}/assign",
    responses=CHANGE_ERRORS,
    summary="Assign an agent or group",
    operation_id="assignTicket",
    tags=[Tag.TICKETS],
)
async def assign_ticket(
    ticket_ref: TicketRef,
    data: AssignRequest,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    return _with_etag(response, await tickets.assign(principal, ticket_ref, data, if_match))


@router.post(
    "/{ticket_ref}/start",
    responses=CHANGE_ERRORS,
    summary="Start work on a ticket",
    operation_id="startTicket",
    tags=[Tag.TICKETS],
)
async def start_ticket(
    ticket_ref: TicketRef,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    return _with_etag(response, await tickets.start(principal, ticket_ref, if_match))


@router.post(
    "/{ticket_ref}/wait",
    responses=CHANGE_ERRORS,
    summary="Wait on the requester or the vendor",
    operation_id="markTicketWaiting",
    tags=[Tag.TICKETS],
)
async def wait_on(
    ticket_ref: TicketRef,
    data: WaitRequest,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    return _with_etag(response, await tickets.wait(principal, ticket_ref, data, if_match))


@router.post(
    "/{ticket_ref}/resolve",
    responses=CHANGE_ERRORS,
    summary="Resolve a ticket",
    operation_id="resolveTicket",
    tags=[Tag.TICKETS],
)
async def resolve_ticket(
    ticket_ref: TicketRef,
    data: ResolveRequest,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    return _with_etag(response, await tickets.resolve(principal, ticket_ref, data, if_match))


@router.post(
    "/{ticket_ref}/close",
    responses=CHANGE_ERRORS,
    summary="Close a ticket",
    operation_id="closeTicket",
    tags=[Tag.TICKETS],
)
async def close_ticket(
    ticket_ref: TicketRef,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    data: CloseRequest | None = None,
    if_match: IfMatch = None,
) -> TicketRead:
    ticket = await tickets.close(principal, ticket_ref, data or CloseRequest(), if_match)
    return _with_etag(response, ticket)


@router.post(
    "/{ticket_ref}/reopen",
    responses=CHANGE_ERRORS,
    summary="Reopen a resolved ticket, or a closed one within the reopen window",
    operation_id="reopenTicket",
    tags=[Tag.TICKETS],
)
async def reopen_ticket(
    ticket_ref: TicketRef,
    data: ReopenRequest,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    return _with_etag(response, await tickets.reopen(principal, ticket_ref, data, if_match))


@router.post(
    "/{ticket_ref}/comments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden, TicketNotFound, InvalidTransition),
    summary="Reply on a ticket, or add an internal note (agents)",
    operation_id="createComment",
    tags=[Tag.COMMENTS],
)
async def add_comment(
    ticket_ref: TicketRef, data: CommentCreate, principal: TicketUser, tickets: Tickets
) -> CommentRead:
    return await tickets.add_comment(principal, ticket_ref, data)


@router.get(
    "/{ticket_ref}/comments",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="The conversation, oldest first (requesters never see internal notes)",
    operation_id="listComments",
    tags=[Tag.COMMENTS],
)
async def list_comments(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets, page: PageParams
) -> Page[CommentRead]:
    return await tickets.list_comments(principal, ticket_ref, page)


@router.get(
    "/{ticket_ref}/history",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Every change: who, when, which field, old and new value",
    operation_id="listTicketHistory",
    tags=[Tag.TICKETS],
)
async def ticket_history(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets, page: PageParams
) -> Page[ChangeRead]:
    return await tickets.history(principal, ticket_ref, page)


@router.post(
    "/{ticket_ref}/interactions",
    status_code=status.HTTP_201_CREATED,
    responses=CHANGE_ERRORS,
    summary="Log help given: a call, a desk visit, a remote session, advice",
    operation_id="logInteraction",
    tags=[Tag.INTERACTIONS],
)
async def log_interaction(
    ticket_ref: TicketRef, data: InteractionCreate, principal: TicketUser, tickets: Tickets
) -> InteractionRead:
    return await tickets.log_interaction(principal, ticket_ref, data)


@router.get(
    "/{ticket_ref}/interactions",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="The help given on a ticket, oldest first",
    operation_id="listInteractions",
    tags=[Tag.INTERACTIONS],
)
async def list_interactions(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets, page: PageParams
) -> Page[InteractionRead]:
    return await tickets.list_interactions(principal, ticket_ref, page)


@router.patch(
    "/{ticket_ref}/interactions/{interaction_id}",
    responses=problem_responses(Forbidden, TicketNotFound, NotFoundOnTicket, StaleVersion),
    summary="Reschedule an interaction, or record how it went",
    operation_id="updateInteraction",
    tags=[Tag.INTERACTIONS],
)
async def update_interaction(
    ticket_ref: TicketRef,
    interaction_id: Annotated[str, Path(max_length=40)],
    data: InteractionUpdate,
    principal: TicketUser,
    tickets: Tickets,
    if_match: IfMatch = None,
) -> InteractionRead:
    return await tickets.update_interaction(principal, ticket_ref, interaction_id, data, if_match)


@router.post(
    "/{ticket_ref}/watchers",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden, TicketNotFound, Conflict),
    summary="Copy someone on a ticket",
    operation_id="addWatcher",
    tags=[Tag.TICKETS],
)
async def add_watcher(
    ticket_ref: TicketRef, data: PersonIn, principal: TicketUser, tickets: Tickets
) -> WatcherRead:
    return await tickets.add_watcher(principal, ticket_ref, data)


@router.get(
    "/{ticket_ref}/watchers",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Who is copied on a ticket",
    operation_id="listWatchers",
    tags=[Tag.TICKETS],
)
async def list_watchers(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets
) -> list[WatcherRead]:
    return await tickets.list_watchers(principal, ticket_ref)


@router.delete(
    "/{ticket_ref}/watchers/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Forbidden, TicketNotFound, NotFoundOnTicket),
    summary="Stop copying someone on a ticket",
    operation_id="removeWatcher",
    tags=[Tag.TICKETS],
)
async def remove_watcher(
    ticket_ref: TicketRef,
    person_id: Annotated[str, Path(max_length=255)],
    principal: TicketUser,
    tickets: Tickets,
) -> None:
    await tickets.remove_watcher(principal, ticket_ref, person_id)


@router.post(
    "/{ticket_ref}/links",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Link a related ticket; returns every linked ticket",
    operation_id="linkTicket",
    tags=[Tag.TICKETS],
)
async def link_ticket(
    ticket_ref: TicketRef, data: LinkCreate, principal: TicketUser, tickets: Tickets
) -> list[LinkedTicket]:
    return await tickets.link(principal, ticket_ref, data)


@router.get(
    "/{ticket_ref}/links",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Tickets linked to this one",
    operation_id="listLinkedTickets",
    tags=[Tag.TICKETS],
)
async def list_links(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets
) -> list[LinkedTicket]:
    return await tickets.links(principal, ticket_ref)


@router.post(
    "/{ticket_ref}/merge",
    responses=CHANGE_ERRORS,
    summary="Merge this duplicate into another ticket; returns the surviving ticket",
    operation_id="mergeTicket",
    tags=[Tag.TICKETS],
)
async def merge_ticket(
    ticket_ref: TicketRef,
    data: MergeRequest,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
    if_match: IfMatch = None,
) -> TicketRead:
    return _with_etag(response, await tickets.merge(principal, ticket_ref, data, if_match))


@router.post(
    "/{ticket_ref}/satisfaction",
    responses=problem_responses(Forbidden, TicketNotFound, InvalidTransition, AlreadyRated),
    summary="The requester rates the help they got, once, after resolution",
    operation_id="rateTicket",
    tags=[Tag.TICKETS],
)
async def rate_ticket(
    ticket_ref: TicketRef,
    data: SatisfactionCreate,
    principal: TicketUser,
    tickets: Tickets,
    response: Response,
) -> TicketRead:
    return _with_etag(response, await tickets.rate(principal, ticket_ref, data))


@router.post(
    "/{ticket_ref}/escalations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden, TicketNotFound, InvalidTransition, StaleVersion),
    summary="Escalate up a tier, or out to the vendor, with evidence",
    operation_id="escalateTicket",
    tags=[Tag.ESCALATIONS],
)
async def escalate_ticket(
    ticket_ref: TicketRef,
    data: TierEscalationCreate | VendorEscalationCreate,
    principal: TicketUser,
    tickets: Tickets,
    if_match: IfMatch = None,
) -> EscalationRead:
    return await tickets.escalate(principal, ticket_ref, data, if_match)


@router.get(
    "/{ticket_ref}/escalations",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="A ticket's escalations with their evidence (agents)",
    operation_id="listEscalations",
    tags=[Tag.ESCALATIONS],
)
async def list_escalations(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets
) -> list[EscalationRead]:
    return await tickets.list_escalations(principal, ticket_ref)


@router.patch(
    "/{ticket_ref}/escalations/{escalation_id}",
    responses=problem_responses(Forbidden, TicketNotFound, NotFoundOnTicket, StaleVersion),
    summary="Record a vendor escalation's progress as the vendor answers",
    operation_id="updateEscalation",
    tags=[Tag.ESCALATIONS],
)
async def update_escalation(
    ticket_ref: TicketRef,
    escalation_id: Annotated[str, Path(max_length=40)],
    data: EscalationUpdate,
    principal: TicketUser,
    tickets: Tickets,
    if_match: IfMatch = None,
) -> EscalationRead:
    return await tickets.update_escalation(principal, ticket_ref, escalation_id, data, if_match)


policies_router = APIRouter(prefix="/v1/sla-policies", tags=[Tag.SLA_POLICIES])
PolicyId = Annotated[str, Path(max_length=40)]


@policies_router.get(
    "",
    responses=problem_responses(Forbidden),
    summary="SLA policies",
    operation_id="listSlaPolicies",
)
async def list_policies(_staff: Staff, policies: Policies) -> list[SlaPolicyRead]:
    return await policies.list_policies()


@policies_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden, Conflict),
    summary="Add an SLA policy (admins)",
    operation_id="createSlaPolicy",
)
async def create_policy(
    data: SlaPolicyCreate, _admin: Admin, policies: Policies, response: Response
) -> SlaPolicyRead:
    policy = await policies.create_policy(data)
    response.headers["Location"] = f"/v1/sla-policies/{policy.id}"
    response.headers["ETag"] = etag(policy.version)
    return policy


@policies_router.get(
    "/{policy_id}",
    responses=problem_responses(Forbidden, SlaPolicyNotFound),
    summary="A policy",
    operation_id="getSlaPolicy",
)
async def get_policy(
    policy_id: PolicyId, _staff: Staff, policies: Policies, response: Response
) -> SlaPolicyRead:
    policy = await policies.get_policy(policy_id)
    response.headers["ETag"] = etag(policy.version)
    return policy


@policies_router.patch(
    "/{policy_id}",
    responses=problem_responses(Forbidden, SlaPolicyNotFound, Conflict, StaleVersion),
    summary="Change an SLA policy (admins); tickets under it follow the new targets",
    operation_id="updateSlaPolicy",
)
async def update_policy(
    policy_id: PolicyId,
    data: SlaPolicyUpdate,
    _admin: Admin,
    policies: Policies,
    response: Response,
    if_match: IfMatch = None,
) -> SlaPolicyRead:
    policy = await policies.update_policy(policy_id, data, if_match)
    response.headers["ETag"] = etag(policy.version)
    return policy


@policies_router.delete(
    "/{policy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Forbidden, SlaPolicyNotFound, Conflict),
    summary="Remove an SLA policy no ticket uses (admins)",
    operation_id="deleteSlaPolicy",
)
async def delete_policy(policy_id: PolicyId, _admin: Admin, policies: Policies) -> None:
    await policies.delete_policy(policy_id)


@router.get(
    "/{ticket_ref}/suggested-assignees",
    responses=problem_responses(Forbidden, TicketNotFound),
    summary="Agents of the ticket's group: trained on its technology first, then least busy",
    operation_id="listSuggestedAssignees",
    tags=[Tag.TICKETS],
)
async def suggested_assignees(
    ticket_ref: TicketRef, principal: TicketUser, tickets: Tickets
) -> list[SuggestedAssignee]:
    return await tickets.suggested_assignees(principal, ticket_ref)


agents_router = APIRouter(prefix="/v1/agents", tags=[Tag.AGENTS])
AgentId = Annotated[str, Path(max_length=255, description="The agent's token `sub`.")]


@agents_router.get(
    "",
    responses=problem_responses(Forbidden),
    summary="The desk's agents",
    operation_id="listAgents",
)
async def list_agents(_staff: Staff, people: People) -> list[AgentRead]:
    return await people.list_agents()


@agents_router.get(
    "/{agent_id}",
    responses=problem_responses(Forbidden, AgentNotFound),
    summary="An agent",
    operation_id="getAgent",
)
async def get_agent(
    agent_id: AgentId, _staff: Staff, people: People, response: Response
) -> AgentRead:
    agent = await people.get_agent(agent_id)
    response.headers["ETag"] = etag(agent.version)
    return agent


@agents_router.put(
    "/{agent_id}",
    responses={
        201: {"description": "Created", "model": AgentRead},
        **problem_responses(Forbidden, Unprocessable, StaleVersion),
    },
    summary="Create or replace an agent's record: tier, groups and skills (admins)",
    operation_id="replaceAgent",
)
async def put_agent(
    agent_id: AgentId,
    data: AgentPut,
    _admin: Admin,
    people: People,
    response: Response,
    if_match: IfMatch = None,
) -> AgentRead:
    agent, created = await people.put_agent(agent_id, data, if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
    response.headers["ETag"] = etag(agent.version)
    return agent


groups_router = APIRouter(prefix="/v1/groups", tags=[Tag.GROUPS])
GroupId = Annotated[str, Path(max_length=40)]


@groups_router.get(
    "",
    responses=problem_responses(Forbidden),
    summary="The desk's groups",
    operation_id="listGroups",
)
async def list_groups(_staff: Staff, people: People) -> list[GroupRead]:
    return await people.list_groups()


@groups_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Forbidden, Conflict),
    summary="Add a group for a tier (admins)",
    operation_id="createGroup",
)
async def create_group(
    data: GroupCreate, _admin: Admin, people: People, response: Response
) -> GroupRead:
    group = await people.create_group(data)
    response.headers["Location"] = f"/v1/groups/{group.id}"
    return group


@groups_router.get(
    "/{group_id}",
    responses=problem_responses(Forbidden, GroupNotFound),
    summary="A group",
    operation_id="getGroup",
)
async def get_group(group_id: GroupId, _staff: Staff, people: People) -> GroupRead:
    return await people.get_group(group_id)


@groups_router.patch(
    "/{group_id}",
    responses=problem_responses(Forbidden, GroupNotFound, Conflict, StaleVersion),
    summary="Change a group (admins)",
    operation_id="updateGroup",
)
async def update_group(
    group_id: GroupId,
    data: GroupUpdate,
    _admin: Admin,
    people: People,
    if_match: IfMatch = None,
) -> GroupRead:
    return await people.update_group(group_id, data, if_match)


@groups_router.delete(
    "/{group_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Forbidden, GroupNotFound, Conflict),
    summary="Remove a group without members or tickets (admins)",
    operation_id="deleteGroup",
)
async def delete_group(group_id: GroupId, _admin: Admin, people: People) -> None:
    await people.delete_group(group_id)


reports_router = APIRouter(prefix="/v1/reports/tickets", tags=[Tag.REPORTS])


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or utc_now()
    start = start or end - timedelta(days=30)
    if start >= end:
        raise Unprocessable("query.from: must be before `to`.")
    return start, end


@reports_router.get(
    "/productivity",
    response_model=ProductivityReport,
    responses={
        **PRODUCTIVITY_TABLE.openapi(),
        **problem_responses(Forbidden, Unprocessable),
    },
    summary="Work hours lost by technology, vendor and support tier",
    operation_id="getProductivityReport",
)
async def productivity_report(
    _staff: Staff,
    reports: Reports,
    from_: Annotated[
        UtcDateTime | None, Query(alias="from", description="Default: 30 days before `to`.")
    ] = None,
    to: Annotated[UtcDateTime | None, Query(description="Default: now.")] = None,
    format_: ReportFormat = "json",
) -> ProductivityReport | Response:
    report = await reports.productivity(*_range(from_, to))
    return PRODUCTIVITY_TABLE.response(report) if format_ == "csv" else report


@reports_router.get(
    "/summary",
    response_model=SummaryReport,
    responses={**SUMMARY_TABLE.openapi(), **problem_responses(Forbidden, Unprocessable)},
    summary="Counts, SLA compliance, median response and resolution times, vendor backlog",
    operation_id="getTicketSummaryReport",
)
async def summary_report(
    _staff: Staff,
    reports: Reports,
    from_: Annotated[UtcDateTime | None, Query(alias="from")] = None,
    to: UtcDateTime | None = None,
    format_: ReportFormat = "json",
) -> SummaryReport | Response:
    report = await reports.summary(*_range(from_, to))
    return SUMMARY_TABLE.response(report) if format_ == "csv" else report


@reports_router.get(
    "/skills",
    response_model=list[SkillGap],
    responses={**SKILLS_TABLE.openapi(), **problem_responses(Forbidden)},
    summary="Technologies on tickets that no active agent is trained on",
    operation_id="getSkillsReport",
)
async def skills_report(
    _staff: Staff, people: People, format_: ReportFormat = "json"
) -> list[SkillGap] | Response:
    gaps = await people.skill_gaps()
    return SKILLS_TABLE.response(gaps) if format_ == "csv" else gaps


inbound_router = APIRouter(prefix="/v1/inbound", tags=[Tag.INBOUND])
InboundId = Annotated[str, Path(max_length=40)]
_INBOUND_PROBLEMS = problem_responses(
    NotAuthenticated, PayloadTooLarge, UnsupportedMediaType, Unprocessable
)


def _examples(model: type[BaseModel]) -> list[Any]:
    """The examples a contract model documents, for a body described by hand."""
    extra = model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples if isinstance(examples, list) else []


_EMAIL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": InboundEmail.model_json_schema(by_alias=True)},
        },
    }
}
_ALERT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "An Alertmanager webhook (version 4), or "
                    "{fingerprint, title, description?, severity?, status?}.",
                    "type": "object",
                    "examples": [
                        *_examples(AlertmanagerWebhook),
                        *_examples(SimpleAlert),
                    ],
                }
            }
        },
    }
}


async def _accept(
    request: Request,
    background: BackgroundTasks,
    accepted: InboundAccepted,
) -> InboundAccepted:
    if not accepted.duplicate and accepted.status is InboundStatus.PENDING:
        settings = request.app.state.settings
        if settings.inbound_process_at_once:
            # After the response, so after the commit: the processor sees the row.
            processor: InboundProcessor = request.app.state.inbound_processor
            background.add_task(processor.run_soon)
    return accepted


@inbound_router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_INBOUND_PROBLEMS,
    openapi_extra=_EMAIL_BODY,
    summary="An email for the desk, signed the Standard Webhooks way",
    operation_id="receiveInboundEmail",
)
async def receive_email(
    request: Request, background: BackgroundTasks, signed: Signed, inbound: Inbound
) -> InboundAccepted:
    accepted = await inbound.receive(signed.webhook, EMAIL, signed.content_type, signed.body)
    return await _accept(request, background, accepted)


@inbound_router.post(
    "/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_INBOUND_PROBLEMS,
    openapi_extra=_ALERT_BODY,
    summary="Alerts from monitoring, signed the Standard Webhooks way",
    operation_id="receiveInboundAlerts",
)
async def receive_alerts(
    request: Request, background: BackgroundTasks, signed: Signed, inbound: Inbound
) -> InboundAccepted:
    accepted = await inbound.receive(signed.webhook, ALERT, signed.content_type, signed.body)
    return await _accept(request, background, accepted)


def _inbound_reader(path: str, kind: str, what: str, operation_id: str) -> None:
    @inbound_router.get(
        f"/{path}/{{inbound_id}}",
        responses=problem_responses(Forbidden, InboundNotFound),
        summary=f"{what} and what came of it (agents)",
        name=f"get_inbound_{path}",
        operation_id=operation_id,
    )
    async def read(inbound_id: InboundId, _staff: Staff, inbound: Inbound) -> InboundRead:
        message = await inbound.get(inbound_id)
        if message.kind != kind:
            raise InboundNotFound(inbound_id)
        return message


# Under the paths that received them, so the gateway's table routes these too.
_inbound_reader("email", EMAIL, "An inbound email's status", "getInboundEmail")
_inbound_reader("alerts", ALERT, "An inbound alert batch's status", "getInboundAlertBatch")

"""The dependencies of the tickets service, each declared once.

All `async def`, even those that await nothing: FastAPI runs a plain `def`
dependency in its thread pool, a thread hop on every request for no work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from deskside_contracts.common import Role
from deskside_kit.auth import Principal, require_roles
from deskside_kit.database import Session
from deskside_kit.webhooks import VerifiedWebhook, WebhookVerifier
from deskside_tickets.config import TicketsSettings
from deskside_tickets.inbound import InboundService
from deskside_tickets.people import PeopleService
from deskside_tickets.policies import SlaPolicyService
from deskside_tickets.reports import ReportService
from deskside_tickets.repository import TicketRepository
from deskside_tickets.service import TicketService


async def _settings(request: Request) -> TicketsSettings:
    settings: TicketsSettings = request.app.state.settings
    return settings


Settings = Annotated[TicketsSettings, Depends(_settings)]


async def _ticket_service(request: Request, session: Session, settings: Settings) -> TicketService:
    state = request.app.state
    return TicketService(
        TicketRepository(session),
        settings,
        state.technologies,
        state.policy_snapshot,
        state.routing_snapshot,
        state.reference_numbers,
    )


Tickets = Annotated[TicketService, Depends(_ticket_service)]


async def _policy_service(request: Request, session: Session) -> SlaPolicyService:
    return SlaPolicyService(TicketRepository(session), request.app.state.policy_snapshot)


Policies = Annotated[SlaPolicyService, Depends(_policy_service)]


async def _people_service(request: Request, session: Session) -> PeopleService:
    return PeopleService(TicketRepository(session), request.app.state.routing_snapshot)


People = Annotated[PeopleService, Depends(_people_service)]


async def _report_service(session: Session) -> ReportService:
    return ReportService(TicketRepository(session))


Reports = Annotated[ReportService, Depends(_report_service)]


async def _inbound_service(session: Session) -> InboundService:
    return InboundService(TicketRepository(session))


Inbound = Annotated[InboundService, Depends(_inbound_service)]


@dataclass(frozen=True)
class SignedBody:
    """An inbound request's raw body and the integration whose secret signed it."""

    webhook: VerifiedWebhook
    content_type: str
    body: bytes


async def _signed_body(request: Request) -> SignedBody:
    # The kit's body limit has capped the size (DESKSIDE_MAX_LARGE_BODY_BYTES).
    # Verified before it is parsed, so an unsigned request learns nothing about
    # what a valid one looks like.
    body = await request.body()
    verifier: WebhookVerifier = request.app.state.inbound_verifier
    return SignedBody(
        webhook=verifier.verify(body, request.headers),
        content_type=request.headers.get("content-type", ""),
        body=body,
    )


# Inbound email and alerts authenticate by signature alone, like device check-ins.
Signed = Annotated[SignedBody, Depends(_signed_body)]

# The desk itself: agents and admins.
Staff = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.ADMIN))]
# Who manages SLA policies, groups and agents.
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

# People who raise and follow tickets, and integrations that open them (alerts, forms).
TicketUser = Annotated[
    Principal, Depends(require_roles(Role.REQUESTER, Role.AGENT, Role.ADMIN, Role.INTEGRATION))
]

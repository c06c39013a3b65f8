"""`client.tickets`: open, find, follow and work tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from deskside_client._common import Version, build, if_match, segment
from deskside_client._http import Http, QueryValue
from deskside_client._paging import follow
from deskside_contracts.paging import Page
from deskside_contracts.tickets import (
    AssignRequest,
    ChangeRead,
    CloseRequest,
    CommentCreate,
    CommentRead,
    ReopenRequest,
    ResolveRequest,
    TicketCreate,
    TicketRead,
    TicketUpdate,
    WaitingOn,
    WaitRequest,
)

_BASE = "/v1/tickets"


class Tickets:
    """Tickets by id (`tkt_…`) or reference (`SD-000042`); changes take `if_match`."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(
        self,
        data: TicketCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> TicketRead:
        """Open a ticket. Safe to retry: one `Idempotency-Key` is used for every try."""
        body = build(TicketCreate, data, fields)
        return await self._http.call(
            TicketRead, "POST", _BASE, body=body, keyed=True, idempotency_key=idempotency_key
        )

    async def get(self, ticket: str) -> TicketRead:
        return await self._http.call(TicketRead, "GET", f"{_BASE}/{segment(ticket)}")

    async def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        priority: str | Sequence[str] | None = None,
        assignee: str | None = None,
        group: str | None = None,
        requester: str | None = None,
        technology: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        updated_after: datetime | None = None,
        q: str | None = None,
        breached: bool | None = None,
        sort: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[TicketRead]:
        """One page; pass its `next_cursor` back as `cursor` for the next (or use `iterate`)."""
        params: dict[str, QueryValue] = {
            "status": status,
            "priority": priority,
            "assignee": assignee,
            "group": group,
            "requester": requester,
            "technology": technology,
            "created_after": created_after,
            "created_before": created_before,
            "updated_after": updated_after,
            "q": q,
            "breached": breached,
            "sort": sort,
            "limit": limit,
            "cursor": cursor,
        }
        return await self._http.call(Page[TicketRead], "GET", _BASE, params=params)

    def iterate(
        self,
        *,
        status: str | Sequence[str] | None = None,
        priority: str | Sequence[str] | None = None,
        assignee: str | None = None,
        group: str | None = None,
        requester: str | None = None,
        technology: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        updated_after: datetime | None = None,
        q: str | None = None,
        breached: bool | None = None,
        sort: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[TicketRead]:
        """Every matching ticket, page after page, fetched only as you iterate."""

        async def page(cursor: str | None) -> Page[TicketRead]:
            return await self.list(
                status=status,
                priority=priority,
                assignee=assignee,
                group=group,
                requester=requester,
                technology=technology,
                created_after=created_after,
                created_before=created_before,
                updated_after=updated_after,
                q=q,
                breached=breached,
                sort=sort,
                limit=page_size,
                cursor=cursor,
            )

        return follow(page)

    async def update(
        self,
        ticket: str,
        data: TicketUpdate | None = None,
        /,
        *,
        if_match: Version | None = None,
        **fields: Any,
    ) -> TicketRead:
        """Change fields (absent ones stay); `if_match` makes it apply only to that version."""
        body = build(TicketUpdate, data, fields)
        return await self._change("PATCH", ticket, "", body, if_match)

    async def assign(
        self,
        ticket: str,
        *,
        assignee_id: str | None = None,
        group_id: str | None = None,
        if_match: Version | None = None,
    ) -> TicketRead:
        body = AssignRequest(assignee_id=assignee_id, group_id=group_id)
        return await self._change("POST", ticket, "/assign", body, if_match)

    async def start(self, ticket: str, *, if_match: Version | None = None) -> TicketRead:
        return await self._change("POST", ticket, "/start", None, if_match)

    async def wait(
        self,
        ticket: str,
        on: WaitingOn | str,
        *,
        reason: str | None = None,
        if_match: Version | None = None,
    ) -> TicketRead:
        body = WaitRequest(on=WaitingOn(on), reason=reason)
        return await self._change("POST", ticket, "/wait", body, if_match)

    async def resolve(
        self, ticket: str, resolution: str, *, if_match: Version | None = None
    ) -> TicketRead:
        body = ResolveRequest(resolution=resolution)
        return await self._change("POST", ticket, "/resolve", body, if_match)

    async def close(
        self, ticket: str, *, reason: str | None = None, if_match: Version | None = None
    ) -> TicketRead:
        body = CloseRequest(reason=reason)
        return await self._change("POST", ticket, "/close", body, if_match)

    async def reopen(
        self, ticket: str, reason: str, *, if_match: Version | None = None
    ) -> TicketRead:
        body = ReopenRequest(reason=reason)
        return await self._change("POST", ticket, "/reopen", body, if_match)

    async def comment(self, ticket: str, body: str, *, internal: bool = False) -> CommentRead:
        """A public reply, or (agents) an internal note."""
        data = CommentCreate(body=body, internal=internal)
        path = f"{_BASE}/{segment(ticket)}/comments"
        return await self._http.call(CommentRead, "POST", path, body=data)

    def comments(self, ticket: str, *, page_size: int | None = None) -> AsyncIterator[CommentRead]:
        """The conversation, oldest first."""
        path = f"{_BASE}/{segment(ticket)}/comments"

        async def page(cursor: str | None) -> Page[CommentRead]:
            params: dict[str, QueryValue] = {"limit": page_size, "cursor": cursor}
            return await self._http.call(Page[CommentRead], "GET", path, params=params)

        return follow(page)

    def history(self, ticket: str, *, page_size: int | None = None) -> AsyncIterator[ChangeRead]:
        """Every change: who, when, which field, old and new value."""
        path = f"{_BASE}/{segment(ticket)}/history"

        async def page(cursor: str | None) -> Page[ChangeRead]:
            params: dict[str, QueryValue] = {"limit": page_size, "cursor": cursor}
            return await self._http.call(Page[ChangeRead], "GET", path, params=params)

        return follow(page)

    async def _change(
        self,
        method: str,
        ticket: str,
        action: str,
        body: Any,
        version: Version | None,
    ) -> TicketRead:
        path = f"{_BASE}/{segment(ticket)}{action}"
        return await self._http.call(TicketRead, method, path, body=body, headers=if_match(version))

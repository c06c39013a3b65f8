"""`client.devices`, `client.accounts` and `client.catalog`: what people bring, what IT rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from deskside_client._common import Version, build, segment
from deskside_client._common import if_match as if_match_header
from deskside_client._http import Http, QueryValue
from deskside_client._paging import follow
from deskside_contracts.inventory import (
    AccountCreate,
    AccountDecision,
    AccountRead,
    AccountStatus,
    ComplianceState,
    DeviceCreate,
    DeviceRead,
    DeviceUpdate,
    Ownership,
    SupportTier,
    TechnologyCreate,
    TechnologyKind,
    TechnologyRead,
    TechnologyUpdate,
)
from deskside_contracts.paging import Page


class Devices:
    """Devices: a requester's own; agents see everyone's."""

    _BASE = "/v1/devices"

    def __init__(self, http: Http) -> None:
        self._http = http

    async def register(
        self,
        data: DeviceCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> DeviceRead:
        """Register a device (ownership is required); safe to retry."""
        body = build(DeviceCreate, data, fields)
        return await self._http.call(
            DeviceRead, "POST", self._BASE, body=body, keyed=True, idempotency_key=idempotency_key
        )

    async def get(self, device_id: str) -> DeviceRead:
        return await self._http.call(DeviceRead, "GET", f"{self._BASE}/{segment(device_id)}")

    async def list(
        self,
        *,
        owner: str | None = None,
        technology: str | None = None,
        ownership: Ownership | str | None = None,
        compliance: ComplianceState | str | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[DeviceRead]:
        params: dict[str, QueryValue] = {
            "owner": owner,
            "technology": technology,
            "ownership": ownership,
            "compliance": compliance,
            "q": q,
            "limit": limit,
            "cursor": cursor,
        }
        return await self._http.call(Page[DeviceRead], "GET", self._BASE, params=params)

    def iterate(
        self,
        *,
        owner: str | None = None,
        technology: str | None = None,
        ownership: Ownership | str | None = None,
        compliance: ComplianceState | str | None = None,
        q: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[DeviceRead]:
        async def page(cursor: str | None) -> Page[DeviceRead]:
            return await self.list(
                owner=owner,
                technology=technology,
                ownership=ownership,
                compliance=compliance,
                q=q,
                limit=page_size,
                cursor=cursor,
            )

        return follow(page)

    async def update(
        self,
        device_id: str,
        data: DeviceUpdate | None = None,
        /,
        *,
        if_match: Version | None = None,
        **fields: Any,
    ) -> DeviceRead:
        """Change a device's details; its compliance is recomputed."""
        body = build(DeviceUpdate, data, fields)
        path = f"{self._BASE}/{segment(device_id)}"
        return await self._http.call(
            DeviceRead, "PATCH", path, body=body, headers=if_match_header(if_match)
        )


class Catalog:
    """The technology catalog: everyone reads it, admins change it."""

    _BASE = "/v1/technologies"

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(
        self,
        data: TechnologyCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> TechnologyRead:
        """Add a technology (admins); safe to retry."""
        body = build(TechnologyCreate, data, fields)
        return await self._http.call(
            TechnologyRead,
            "POST",
            self._BASE,
            body=body,
            keyed=True,
            idempotency_key=idempotency_key,
        )

    async def get(self, key: str) -> TechnologyRead:
        return await self._http.call(TechnologyRead, "GET", f"{self._BASE}/{segment(key)}")

    async def list(
        self,
        *,
        kind: TechnologyKind | str | None = None,
        category: str | None = None,
        tier: SupportTier | str | None = None,
        recommended: bool | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[TechnologyRead]:
        params: dict[str, QueryValue] = {
            "kind": kind,
            "category": category,
            "tier": tier,
            "recommended": recommended,
            "q": q,
            "limit": limit,
            "cursor": cursor,
        }
        return await self._http.call(Page[TechnologyRead], "GET", self._BASE, params=params)

    def iterate(
        self,
        *,
        kind: TechnologyKind | str | None = None,
        category: str | None = None,
        tier: SupportTier | str | None = None,
        recommended: bool | None = None,
        q: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[TechnologyRead]:
        async def page(cursor: str | None) -> Page[TechnologyRead]:
            return await self.list(
                kind=kind,
                category=category,
                tier=tier,
                recommended=recommended,
                q=q,
                limit=page_size,
                cursor=cursor,
            )

        return follow(page)

    async def update(
        self,
        key: str,
        data: TechnologyUpdate | None = None,
        /,
        *,
        if_match: Version | None = None,
        **fields: Any,
    ) -> TechnologyRead:
        """Change a technology (admins); a tier change is announced to the people affected."""
        body = build(TechnologyUpdate, data, fields)
        path = f"{self._BASE}/{segment(key)}"
        return await self._http.call(
            TechnologyRead, "PATCH", path, body=body, headers=if_match_header(if_match)
        )


class Accounts:
    """Consumer-service accounts people declare (BYOS); agents decide the undecided ones."""

    _BASE = "/v1/accounts"

    def __init__(self, http: Http) -> None:
        self._http = http

    async def declare(
        self,
        data: AccountCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> AccountRead:
        """Declare an account used for work; the ground rules decide at once where they can."""
        body = build(AccountCreate, data, fields)
        return await self._http.call(
            AccountRead, "POST", self._BASE, body=body, keyed=True, idempotency_key=idempotency_key
        )

    async def get(self, account_id: str) -> AccountRead:
        return await self._http.call(AccountRead, "GET", f"{self._BASE}/{segment(account_id)}")

    async def list(
        self,
        *,
        owner: str | None = None,
        technology: str | None = None,
        status: AccountStatus | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[AccountRead]:
        params: dict[str, QueryValue] = {
            "owner": owner,
            "technology": technology,
            "status": status,
            "limit": limit,
            "cursor": cursor,
        }
        return await self._http.call(Page[AccountRead], "GET", self._BASE, params=params)

    def iterate(
        self,
        *,
        owner: str | None = None,
        technology: str | None = None,
        status: AccountStatus | str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[AccountRead]:
        async def page(cursor: str | None) -> Page[AccountRead]:
            return await self.list(
                owner=owner, technology=technology, status=status, limit=page_size, cursor=cursor
            )

        return follow(page)

    async def approve(
        self, account_id: str, *, note: str | None = None, if_match: Version | None = None
    ) -> AccountRead:
        return await self._decide(account_id, "approve", note, if_match)

    async def reject(
        self, account_id: str, *, note: str | None = None, if_match: Version | None = None
    ) -> AccountRead:
        return await self._decide(account_id, "reject", note, if_match)

    async def revoke(
        self, account_id: str, *, note: str | None = None, if_match: Version | None = None
    ) -> AccountRead:
        return await self._decide(account_id, "revoke", note, if_match)

    async def _decide(
        self, account_id: str, decision: str, note: str | None, version: Version | None
    ) -> AccountRead:
        path = f"{self._BASE}/{segment(account_id)}/{decision}"
        return await self._http.call(
            AccountRead,
            "POST",
            path,
            body=AccountDecision(note=note),
            headers=if_match_header(version),
        )

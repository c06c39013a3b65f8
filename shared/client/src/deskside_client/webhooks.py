"""`client.webhooks`: subscriptions to Deskside's events, and what was delivered to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from deskside_client._common import Version, build, segment
from deskside_client._common import if_match as if_match_header
from deskside_client._http import Http, QueryValue
from deskside_client._paging import follow
from deskside_contracts.notify import (
    DeliveryDetail,
    DeliveryRead,
    DeliveryStatus,
    RecoverAccepted,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookRecover,
    WebhookUpdate,
)
from deskside_contracts.paging import Page

_BASE = "/v1/webhooks"


class Webhooks:
    """Admins' webhook subscriptions: `create` returns the signing secret, once."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(
        self,
        data: WebhookCreate | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> WebhookCreated:
        """Subscribe `url` to `event_types`; keep the returned `secret` to verify deliveries."""
        body = build(WebhookCreate, data, fields)
        return await self._http.call(
            WebhookCreated, "POST", _BASE, body=body, keyed=True, idempotency_key=idempotency_key
        )

    async def get(self, webhook_id: str) -> WebhookRead:
        return await self._http.call(WebhookRead, "GET", f"{_BASE}/{segment(webhook_id)}")

    async def list(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[WebhookRead]:
        params: dict[str, QueryValue] = {"limit": limit, "cursor": cursor}
        return await self._http.call(Page[WebhookRead], "GET", _BASE, params=params)

    def iterate(self, *, page_size: int | None = None) -> AsyncIterator[WebhookRead]:
        async def page(cursor: str | None) -> Page[WebhookRead]:
            return await self.list(limit=page_size, cursor=cursor)

        return follow(page)

    async def update(
        self,
        webhook_id: str,
        data: WebhookUpdate | None = None,
        /,
        *,
        if_match: Version | None = None,
        **fields: Any,
    ) -> WebhookRead:
        """Change a subscription; `enabled=True` re-enables one Deskside switched off."""
        body = build(WebhookUpdate, data, fields)
        path = f"{_BASE}/{segment(webhook_id)}"
        return await self._http.call(
            WebhookRead, "PATCH", path, body=body, headers=if_match_header(if_match)
        )

    async def delete(self, webhook_id: str) -> None:
        """Unsubscribe; its delivery log goes with it."""
        await self._http.request("DELETE", f"{_BASE}/{segment(webhook_id)}")

    async def test(self, webhook_id: str) -> DeliveryRead:
        """Send a `webhook.test` event to this endpoint now."""
        path = f"{_BASE}/{segment(webhook_id)}/test"
        return await self._http.call(DeliveryRead, "POST", path)

    async def rotate_secret(self, webhook_id: str) -> SecretRotated:
        """A new secret; for 24 hours deliveries are signed with both."""
        path = f"{_BASE}/{segment(webhook_id)}/rotate-secret"
        return await self._http.call(SecretRotated, "POST", path)

    async def recover(self, webhook_id: str, since: datetime) -> RecoverAccepted:
        """Re-send every failed or skipped message since `since`."""
        path = f"{_BASE}/{segment(webhook_id)}/recover"
        body = WebhookRecover(since=since)
        return await self._http.call(RecoverAccepted, "POST", path, body=body)

    def deliveries(
        self,
        webhook_id: str,
        *,
        status: DeliveryStatus | str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[DeliveryRead]:
        """What was sent to this endpoint, newest first."""
        path = f"{_BASE}/{segment(webhook_id)}/deliveries"

        async def page(cursor: str | None) -> Page[DeliveryRead]:
            params: dict[str, QueryValue] = {"status": status, "limit": page_size, "cursor": cursor}
            return await self._http.call(Page[DeliveryRead], "GET", path, params=params)

        return follow(page)

    async def delivery(self, delivery_id: str) -> DeliveryDetail:
        """One delivery: its payload and every attempt."""
        path = f"/v1/deliveries/{segment(delivery_id)}"
        return await self._http.call(DeliveryDetail, "GET", path)

    async def retry_delivery(self, delivery_id: str) -> DeliveryRead:
        path = f"/v1/deliveries/{segment(delivery_id)}/retry"
        return await self._http.call(DeliveryRead, "POST", path)

"""`client.inbound`: what integrations post to Deskside, signed with their own secret.

Device check-ins, monitoring alerts and inbound email are authenticated by a
Standard Webhooks signature made with the integration's `whsec_…` secret
(configured in `DESKSIDE_INVENTORY_CHECKIN_SECRETS` and
`DESKSIDE_TICKETS_INBOUND_SECRETS`), not by a token. Each call is signed
once, so its retries carry the same `webhook-id` and Deskside acts on it once.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from deskside_client._http import Http
from deskside_client.signatures import sign_webhook
from deskside_contracts.inventory import CheckinResult, CheckinSnapshot
from deskside_contracts.tickets import InboundAccepted, InboundEmail


class Inbound:
    def __init__(self, http: Http) -> None:
        self._http = http

    async def checkin(
        self,
        secret: str,
        snapshot: CheckinSnapshot | None = None,
        /,
        *,
        webhook_id: str | None = None,
        **fields: Any,
    ) -> CheckinResult:
        """A device-management snapshot of one device (`POST /v1/inbound/checkins`)."""
        data = snapshot if snapshot is not None else CheckinSnapshot.model_validate(fields)
        response = await self._post(
            "/v1/inbound/checkins", secret, _json(data), "application/json", webhook_id
        )
        return CheckinResult.model_validate_json(response)

    async def alert(
        self, secret: str, alert: dict[str, Any], *, webhook_id: str | None = None
    ) -> InboundAccepted:
        """An Alertmanager webhook (version 4), or `{fingerprint, title, description?, ...}`."""
        response = await self._post(
            "/v1/inbound/alerts", secret, _json(alert), "application/json", webhook_id
        )
        return InboundAccepted.model_validate_json(response)

    async def email(
        self,
        secret: str,
        message: InboundEmail | bytes,
        *,
        webhook_id: str | None = None,
    ) -> InboundAccepted:
        """An email: parsed (`InboundEmail`) or raw RFC 822 bytes."""
        if isinstance(message, bytes):
            body, content_type = message, "message/rfc822"
        else:
            body, content_type = _json(message), "application/json"
        response = await self._post("/v1/inbound/email", secret, body, content_type, webhook_id)
        return InboundAccepted.model_validate_json(response)

    async def _post(
        self, path: str, secret: str, body: bytes, content_type: str, webhook_id: str | None
    ) -> bytes:
        headers = {
            "Content-Type": content_type,
            **sign_webhook(secret, body, webhook_id=webhook_id),
        }
        response = await self._http.request(
            "POST", path, content=body, headers=headers, retry_safe=True
        )
        return response.content


def _json(data: BaseModel | dict[str, Any]) -> bytes:
    if isinstance(data, BaseModel):
        return data.model_dump_json(by_alias=True, exclude_unset=True).encode()
    return json.dumps(data).encode()

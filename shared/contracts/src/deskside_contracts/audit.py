"""Audit records: who did what, when, with which request, on every service."""

from __future__ import annotations

from pydantic import Field

from deskside_contracts.common import ResponseModel, UtcDateTime


class AuditRecordRead(ResponseModel):
    """One request that changed something, or was refused."""

    id: int
    at: UtcDateTime
    request_id: str | None = Field(description="The `X-Request-ID` of the request.")
    actor: str | None = Field(
        description="The token's subject, `deskside-service` for another service, "
        "or null when no credential was valid."
    )
    roles: list[str]
    method: str
    path: str
    status: int = Field(description="What the caller was answered.")
    client: str | None = Field(description="The client address the service saw.")

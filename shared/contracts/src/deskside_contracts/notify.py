"""Contracts of the notify service."""

from __future__ import annotations

from pydantic import Field

from deskside_contracts.common import ResponseModel, UtcDateTime


class WebhookRead(ResponseModel):
    """A webhook subscription. Its signing secret is shown once, at creation, never here."""

    id: str
    url: str
    event_types: list[str] = Field(description="Event types delivered; `*` means all.")
    active: bool
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime

"""Contracts of the inventory service."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from deskside_contracts.common import ResponseModel, UtcDateTime


class TechnologyKind(StrEnum):
    DEVICE_PLATFORM = "device_platform"
    SERVICE = "service"


class SupportTier(StrEnum):
    SUPPORTED = "supported"
    BEST_EFFORT = "best_effort"
    UNSUPPORTED = "unsupported"
    PROHIBITED = "prohibited"


class TechnologyRead(ResponseModel):
    """A consumer technology in the catalog, with IT's ground rules for it."""

    key: str = Field(description="Stable slug, e.g. `ipad` or `dropbox`.")
    name: str
    kind: TechnologyKind
    category: str
    vendor: str | None = None
    support_tier: SupportTier
    recommended: bool
    guide: str | None = Field(
        default=None, description="Where people and agents find how to get help with it."
    )
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime

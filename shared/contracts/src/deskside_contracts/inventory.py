"""Contracts of the inventory service."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from deskside_contracts.common import RequestModel, ResponseModel, UtcDateTime

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)]


class TechnologyKind(StrEnum):
    DEVICE_PLATFORM = "device_platform"
    SERVICE = "service"


class SupportTier(StrEnum):
    SUPPORTED = "supported"
    BEST_EFFORT = "best_effort"
    UNSUPPORTED = "unsupported"
    PROHIBITED = "prohibited"


class Link(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    url: Url


class VendorSupport(RequestModel):
    """How the desk reaches the vendor: their support, the contract, the way up."""

    url: Url | None = None
    phone: str | None = Field(default=None, max_length=50)
    contract_ref: str | None = Field(default=None, max_length=200)
    escalation: str | None = Field(
        default=None, max_length=5000, description="How to reach the vendor's engineers."
    )


class TechnologyFields(RequestModel):
    """What admins write about a technology; `key` and `kind` are fixed at creation."""

    name: str = Field(min_length=1, max_length=200)
    category: Slug = Field(
        description="`phone`, `tablet`, `laptop`, `email`, `file_sharing`, `notes`, "
        "`presentations`, `messaging`, `video`, …"
    )
    vendor: str | None = Field(default=None, max_length=200)
    support_tier: SupportTier
    recommended: bool = Field(default=False, description="One of the few IT steers people to.")
    recommended_alternative: Key | None = Field(
        default=None, description="What to use instead, for what is not supported."
    )
    min_os_version: str | None = Field(
        default=None, max_length=32, pattern=r"^\d+(\.\d+){0,3}$", description="Platforms only."
    )
    guide: str | None = Field(
        default=None, max_length=100_000, description="'Using your device' advice, in markdown."
    )
    links: list[Link] = Field(default_factory=list, max_length=50)
    vendor_support: VendorSupport | None = None
    app_identifiers: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(
        default_factory=list,
        max_length=200,
        description="Bundle ids, package names and process names that reveal it on devices.",
    )


class TechnologyCreate(TechnologyFields):
    key: Key = Field(description="Stable slug, e.g. `ipad` or `dropbox`.")
    kind: TechnologyKind


class TechnologyUpdate(RequestModel):
    """A partial change; absent fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: Slug | None = None
    vendor: str | None = Field(default=None, max_length=200)
    support_tier: SupportTier | None = None
    recommended: bool | None = None
    recommended_alternative: Key | None = None
    min_os_version: str | None = Field(default=None, max_length=32, pattern=r"^\d+(\.\d+){0,3}$")
    guide: str | None = Field(default=None, max_length=100_000)
    links: list[Link] | None = Field(default=None, max_length=50)
    vendor_support: VendorSupport | None = None
    app_identifiers: (
        list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] | None
    ) = Field(default=None, max_length=200)


class TechnologyRead(ResponseModel):
    """A consumer technology in the catalog, with IT's ground rules for it."""

    key: str = Field(description="Stable slug, e.g. `ipad` or `dropbox`.")
    name: str
    kind: TechnologyKind
    category: str
    vendor: str | None = None
    support_tier: SupportTier
    recommended: bool
    recommended_alternative: str | None = None
    min_os_version: str | None = None
    guide: str | None = Field(
        default=None, description="Where people and agents find how to get help with it."
    )
    links: list[Link] = Field(default_factory=list)
    vendor_support: VendorSupport | None = None
    app_identifiers: list[str] = Field(default_factory=list)
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime

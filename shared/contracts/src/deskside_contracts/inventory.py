"""Contracts of the inventory service."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "dropbox",
                    "kind": "service",
                    "name": "Dropbox",
                    "category": "file_sharing",
                    "vendor": "Dropbox",
                    "support_tier": "best_effort",
                    "recommended": False,
                    "recommended_alternative": "onedrive",
                    "guide": "Keep company files in OneDrive; share with customers from Dropbox.",
                    "links": [{"title": "Dropbox help centre", "url": "https://help.dropbox.com/"}],
                    "vendor_support": {
                        "url": "https://www.dropbox.com/support",
                        "contract_ref": "DBX-2026-017",
                    },
                    "app_identifiers": ["com.getdropbox.Dropbox", "com.dropbox.android"],
                },
                {
                    "key": "ipados",
                    "kind": "device_platform",
                    "name": "iPad",
                    "category": "tablet",
                    "vendor": "Apple",
                    "support_tier": "supported",
                    "recommended": True,
                    "min_os_version": "17.0",
                },
            ]
        }
    )

    key: Key = Field(description="Stable slug, e.g. `ipad` or `dropbox`.")
    kind: TechnologyKind


class TechnologyUpdate(RequestModel):
    """A partial change; absent fields stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"support_tier": "unsupported", "recommended_alternative": "onedrive"},
                {"min_os_version": "18.0"},
            ]
        }
    )

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


# --- devices (BYOD) --------------------------------------------------------------------------


class Ownership(StrEnum):
    PERSONAL = "personal"
    CORPORATE = "corporate"


class ComplianceState(StrEnum):
    COMPLIANT = "compliant"
    NONCOMPLIANT = "noncompliant"
    UNKNOWN = "unknown"


class ComplianceReason(StrEnum):
    OS_BELOW_MINIMUM = "os_below_minimum"
    NOT_ENCRYPTED = "not_encrypted"
    NO_PASSCODE = "no_passcode"
    PLATFORM_PROHIBITED = "platform_prohibited"
    NO_RECENT_CHECK_IN = "no_recent_check_in"


class Owner(RequestModel):
    """Whom an agent registers a device for."""

    id: str = Field(min_length=1, max_length=255, description="Their token `sub`.")
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = Field(default=None, max_length=255)
    department: str | None = Field(
        default=None, min_length=1, max_length=100, description="For the adoption report's filter."
    )


OsVersion = Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+){0,3}$", max_length=32)]


class DeviceCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ownership": "personal",
                    "technology": "ipados",
                    "model": "iPad Air",
                    "name": "Maria's iPad",
                    "os_version": "18.1",
                    "encrypted": True,
                    "passcode_set": True,
                },
                {
                    "ownership": "corporate",
                    "technology": "windows",
                    "model": "Surface Laptop",
                    "os_version": "10.0.22631",
                    "serial_number": "0F33ABC2219",
                    "owner": {
                        "id": "ben",
                        "email": "ben.kowalski@example.com",
                        "name": "Ben Kowalski",
                        "department": "sales",
                    },
                },
            ]
        }
    )

    ownership: Ownership = Field(
        description="Required and explicit: a personal device is never taken for a company one."
    )
    technology: Key = Field(description="The platform's catalog key, e.g. `ios`.")
    model: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    os_version: OsVersion | None = None
    encrypted: bool | None = None
    passcode_set: bool | None = None
    serial_number: str | None = Field(
        default=None, max_length=100, description="Corporate devices only."
    )
    imei: str | None = Field(default=None, max_length=32, description="Corporate devices only.")
    owner: Owner | None = Field(default=None, description="Agents only: whose device it is.")


class DeviceUpdate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"os_version": "18.2", "passcode_set": True}]}
    )

    model: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    os_version: OsVersion | None = None
    encrypted: bool | None = None
    passcode_set: bool | None = None
    serial_number: str | None = Field(default=None, max_length=100)
    imei: str | None = Field(default=None, max_length=32)


class Compliance(ResponseModel):
    state: ComplianceState
    reasons: list[ComplianceReason]


class DeviceOwner(ResponseModel):
    id: str
    email: str | None = None
    name: str | None = None


class DeviceRead(ResponseModel):
    """Everything Deskside stores about a device: its owner sees all of it."""

    id: str
    owner: DeviceOwner
    ownership: Ownership
    technology: str
    model: str | None = None
    name: str | None = None
    os_version: str | None = None
    encrypted: bool | None = None
    passcode_set: bool | None = None
    serial_number: str | None = None
    imei: str | None = None
    compliance: Compliance
    enrolled_at: UtcDateTime
    last_check_in_at: UtcDateTime | None = None
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


# --- consumer-service accounts (BYOS) --------------------------------------------------------


class DataClassification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class AccountStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class AccountCreate(RequestModel):
    """Someone declares they use a consumer service for work."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "technology": "dropbox",
                    "identifier": "maria.keller@example.com",
                    "purpose": "Sharing files with customers",
                    "data_classification": "internal",
                }
            ]
        }
    )

    technology: Key = Field(description="The service's catalog key, e.g. `dropbox`.")
    identifier: str = Field(min_length=1, max_length=320, description="The account's login.")
    purpose: str = Field(min_length=1, max_length=2000)
    data_classification: DataClassification
    owner: Owner | None = Field(default=None, description="Agents only: whose account it is.")


class AccountDecision(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"note": "Approved for customer sharing; keep confidential files in OneDrive."},
                {},
            ]
        }
    )

    note: str | None = Field(default=None, max_length=2000)


class AccountRead(ResponseModel):
    id: str
    owner: DeviceOwner
    technology: str
    identifier: str
    purpose: str
    data_classification: DataClassification
    status: AccountStatus
    decided_by: str | None = Field(
        default=None, description="The agent who decided, or `policy` for an automatic decision."
    )
    decision_note: str | None = None
    recommended_alternative: str | None = Field(
        default=None, description="For a rejected service: what to use instead."
    )
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


# --- check-ins from device management --------------------------------------------------------


class InstalledApp(RequestModel):
    identifier: str = Field(min_length=1, max_length=255, description="Bundle id, package name…")
    name: str | None = Field(default=None, max_length=255)
    version: str | None = Field(default=None, max_length=64)


class CheckinSnapshot(RequestModel):
    """What a device-management system reports about one device.

    Personal devices report only managed or work-profile apps; Deskside stores
    what is sent and nothing more.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "external_id": "intune-7f3c2a",
                    "owner_email": "maria.keller@example.com",
                    "owner_id": "maria",
                    "ownership": "personal",
                    "platform": "ipados",
                    "model": "iPad Air",
                    "os_version": "18.1",
                    "encrypted": True,
                    "passcode_set": True,
                    "apps": [
                        {
                            "identifier": "com.getdropbox.Dropbox",
                            "name": "Dropbox",
                            "version": "380.1",
                        },
                        {"identifier": "com.microsoft.teams", "name": "Teams"},
                    ],
                }
            ]
        }
    )

    external_id: str = Field(min_length=1, max_length=255, description="The sender's device id.")
    owner_email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    owner_id: str | None = Field(
        default=None, max_length=255, description="The owner's token `sub`, when known."
    )
    ownership: Ownership
    platform: Key = Field(description="The platform's catalog key, e.g. `android`.")
    model: str | None = Field(default=None, max_length=200)
    os_version: OsVersion | None = None
    encrypted: bool | None = None
    passcode_set: bool | None = None
    apps: list[InstalledApp] = Field(default_factory=list, max_length=2000)


class CheckinResult(ResponseModel):
    device_id: str
    duplicate: bool = Field(description="This webhook-id was processed before; nothing changed.")
    compliance: Compliance | None = None
    discovered: list[str] = Field(
        default_factory=list, description="Catalog technologies found among the apps."
    )


# --- adoption report --------------------------------------------------------------------------


class TechnologyAdoption(ResponseModel):
    technology: str
    name: str
    category: str
    support_tier: SupportTier
    recommended: bool
    devices: int
    declared_accounts: int
    discovered_undeclared: int = Field(description="People seen using it who never declared it.")
    people: int


class CategoryAdoption(ResponseModel):
    category: str
    technologies_in_use: int
    people: int
    recommended_share: float = Field(description="Share of people on a recommended technology.")
    effective_technologies: float = Field(
        description="1 / Σ pᵢ² over the technologies' shares of people: how splintered it is."
    )


class ComplianceSummary(ResponseModel):
    by_state: dict[str, int]
    by_reason: dict[str, int]


class AdoptionReport(ResponseModel):
    """What the company runs on: use per technology and per category, and device compliance."""

    from_: UtcDateTime | None = Field(default=None, alias="from")
    to: UtcDateTime | None = None
    department: str | None = Field(
        default=None, description="When given: only people of this department are counted."
    )
    technologies: list[TechnologyAdoption]
    categories: list[CategoryAdoption]
    compliance: ComplianceSummary

"""The tables of the inventory service, all in one module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from deskside_kit.database import UtcDateTime, utc_now
from deskside_kit.idempotency import IdempotencyKey
from deskside_kit.ids import new_id
from deskside_kit.outbox import OutboxEvent

# The kit's tables live in this service's database too.
__all__ = [
    "Account",
    "Device",
    "DiscoveredUse",
    "IdempotencyKey",
    "InboundWebhook",
    "OutboxEvent",
    "PersonDepartment",
    "Technology",
]


def _json(nullable: bool = False) -> Column[Any]:
    return Column(JSON, nullable=nullable)


class Technology(SQLModel, table=True):
    """A consumer technology in the catalog (a device platform or a cloud service)."""

    __tablename__ = "technologies"

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    category: str = Field(max_length=64)
    vendor: str | None = Field(default=None, max_length=200)
    support_tier: str = Field(max_length=32)
    recommended: bool = Field(default=False)
    recommended_alternative: str | None = Field(default=None, max_length=64)
    min_os_version: str | None = Field(default=None, max_length=32)
    guide: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    links: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    vendor_support: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    app_identifiers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class Device(SQLModel, table=True):
    """A device someone works on: their own (BYOD) or the company's."""

    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_owner_id_id", "owner_id", "id"),
        Index("ix_devices_technology", "technology"),
        Index("ix_devices_compliance", "compliance"),
        # The adoption report's time range, one index per bound (migration 0008).
        Index(
            "ix_devices_updated_at_created_at", "updated_at", "created_at", "technology", "owner_id"
        ),
        Index(
            "ix_devices_created_at_updated_at", "created_at", "updated_at", "technology", "owner_id"
        ),
    )

    id: str = Field(default_factory=lambda: new_id("dev"), primary_key=True, max_length=40)
    owner_id: str = Field(max_length=255)
    owner_email: str | None = Field(default=None, max_length=320)
    owner_name: str | None = Field(default=None, max_length=255)
    ownership: str = Field(max_length=16)
    technology: str = Field(max_length=64)
    model: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    os_version: str | None = Field(default=None, max_length=32)
    encrypted: bool | None = Field(default=None)
    passcode_set: bool | None = Field(default=None)
    # Corporate devices only: personal ones never keep hardware identifiers.
    serial_number: str | None = Field(default=None, max_length=100)
    imei: str | None = Field(default=None, max_length=32)
    compliance: str = Field(default="unknown", max_length=16)
    compliance_reasons: list[str] = Field(default_factory=list, sa_column=_json())
    enrolled_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    last_check_in_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True)
    )
    # Devices reported by device management: which integration, its id for the
    # device, and the apps it reported (only what was sent).
    source: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=255)
    apps: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class Account(SQLModel, table=True):
    """A consumer-service account someone uses for work (BYOS), and IT's decision on it."""

    __tablename__ = "accounts"
    __table_args__ = (
        Index("ix_accounts_owner_id_id", "owner_id", "id"),
        Index("ix_accounts_technology", "technology"),
        Index("ix_accounts_status", "status"),
        # The adoption report's time range, one index per bound (migration 0008).
        Index(
            "ix_accounts_updated_at_created_at",
            "updated_at",
            "created_at",
            "status",
            "technology",
            "owner_id",
        ),
        Index(
            "ix_accounts_created_at_updated_at",
            "created_at",
            "updated_at",
            "status",
            "technology",
            "owner_id",
        ),
    )

    id: str = Field(default_factory=lambda: new_id("acc"), primary_key=True, max_length=40)
    owner_id: str = Field(max_length=255)
    owner_email: str | None = Field(default=None, max_length=320)
    owner_name: str | None = Field(default=None, max_length=255)
    technology: str = Field(max_length=64)
    identifier: str = Field(max_length=320)
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    data_classification: str = Field(max_length=16)
    status: str = Field(default="requested", max_length=16)
    decided_by: str | None = Field(default=None, max_length=255)
    decision_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recommended_alternative: str | None = Field(default=None, max_length=64)
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class InboundWebhook(SQLModel, table=True):
    """Webhook ids already processed: a sender's retry changes nothing twice."""

    __tablename__ = "inbound_webhooks"

    integration: str = Field(primary_key=True, max_length=64)
    webhook_id: str = Field(primary_key=True, max_length=255)
    received_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class PersonDepartment(SQLModel, table=True):
    """The department a person belongs to, as their own token (or the agent acting for them) said.

    Learned when they register a device or declare an account, so the adoption
    report can be narrowed to one department's people.
    """

    __tablename__ = "person_departments"
    __table_args__ = (Index("ix_person_departments_department", "department"),)

    person_id: str = Field(primary_key=True, max_length=255)
    department: str = Field(max_length=100)
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class DiscoveredUse(SQLModel, table=True):
    """A technology found on someone's device that nobody declared: shadow IT."""

    __tablename__ = "discovered_uses"
    __table_args__ = (
        Index("ix_discovered_uses_technology", "technology"),
        # The adoption report's time range, one index per bound (migration 0008).
        Index(
            "ix_discovered_uses_last_seen_at_first_seen_at",
            "last_seen_at",
            "first_seen_at",
            "technology",
            "owner_id",
        ),
        Index(
            "ix_discovered_uses_first_seen_at_last_seen_at",
            "first_seen_at",
            "last_seen_at",
            "technology",
            "owner_id",
        ),
    )

    owner_id: str = Field(primary_key=True, max_length=255)
    technology: str = Field(primary_key=True, max_length=64)
    device_id: str = Field(primary_key=True, max_length=40)
    first_seen_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    last_seen_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )

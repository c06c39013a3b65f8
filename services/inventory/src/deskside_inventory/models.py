"""The tables of the inventory service, all in one module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from deskside_kit.database import UtcDateTime, utc_now
from deskside_kit.idempotency import IdempotencyKey
from deskside_kit.outbox import OutboxEvent

# The kit's tables live in this service's database too.
__all__ = ["IdempotencyKey", "OutboxEvent", "Technology"]


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

"""The tables of the inventory service, all in one module."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from deskside_kit.database import UtcDateTime, utc_now


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
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )

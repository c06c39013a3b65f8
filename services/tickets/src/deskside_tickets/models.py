"""The tables of the tickets service, all in one module (SQLModel relationships
across modules cause import cycles)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from deskside_kit.database import UtcDateTime, utc_now
from deskside_kit.ids import new_id


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_requester_id_id", "requester_id", "id"),)

    id: str = Field(default_factory=lambda: new_id("tkt"), primary_key=True, max_length=40)
    number: int = Field(unique=True, description="The sequential part of the reference.")
    reference: str = Field(unique=True, max_length=24)
    title: str = Field(max_length=200)
    description: str = Field(default="")
    status: str = Field(default="new", max_length=32)
    requester_id: str = Field(max_length=255)
    requester_email: str | None = Field(default=None, max_length=320)
    requester_name: str | None = Field(default=None, max_length=255)
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )


class ReferenceCounter(SQLModel, table=True):
    """Hands out reference numbers on SQLite.

    PostgreSQL uses the sequence `ticket_reference_seq` instead: a sequence
    never blocks concurrent creates, where this row would be a queue.
    """

    __tablename__ = "reference_counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0)

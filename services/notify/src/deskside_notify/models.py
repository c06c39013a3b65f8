"""The tables of the notify service, all in one module."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from deskside_kit.database import UtcDateTime, utc_now
from deskside_kit.ids import new_id


class WebhookSubscription(SQLModel, table=True):
    """An integration's subscription to Deskside events, delivered signed."""

    __tablename__ = "webhook_subscriptions"

    id: str = Field(default_factory=lambda: new_id("whk"), primary_key=True, max_length=40)
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Shown to the subscriber once, at creation; never in a response after that.
    secret: str = Field(max_length=128)
    active: bool = Field(default=True)
    owner_id: str = Field(max_length=255)
    version: int = Field(default=1)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )

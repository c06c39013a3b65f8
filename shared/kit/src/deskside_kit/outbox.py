"""The transactional outbox: events are rows written with the change that causes them.

A service records an event in the same transaction as the change, so a crash
can delay an event but never lose it nor publish one for a change that was
rolled back. A relay (`relay.py`) sends the rows on and marks them sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_contracts.events import Event
from deskside_kit.context import current_request_id
from deskside_kit.database import (
    OUTBOX_WRITTEN,
    UtcDateTime,
    new_instance,
    partial_index,
    utc_now,
    wake_after_commit,
)
from deskside_kit.ids import new_id


class OutboxEvent(SQLModel, table=True):
    """An event waiting to be relayed; each service has this table in its own database."""

    __tablename__ = "outbox"
    # The events still to send, in order (`migrations.index_outbox_to_send_v2`).
    __table_args__ = (partial_index("ix_outbox_to_send", "sequence", where="sent_at IS NULL"),)

    # The order events were written in: the relay sends them in this order.
    sequence: int | None = Field(default=None, primary_key=True)
    id: str = Field(default_factory=lambda: new_id("evt"), unique=True, max_length=40)
    type: str = Field(max_length=64)
    source: str = Field(max_length=32)
    subject: str = Field(max_length=64)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    request_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    attempts: int = Field(default=0)

    def to_event(self) -> Event:
        return Event(
            id=self.id,
            type=self.type,
            timestamp=self.created_at,
            source=self.source,
            subject=self.subject,
            data=self.data,
        )


def record_event(
    session: AsyncSession, *, source: str, type: str, subject: str, data: dict[str, Any]
) -> OutboxEvent:
    """Add an event to the session's transaction; it is relayed once that commits.

    The relay of this process is woken by the commit, so the event leaves at
    once rather than at the relay's next look.
    """
    event = new_instance(
        OutboxEvent,
        type=type,
        source=source,
        subject=subject,
        data=data,
        request_id=current_request_id(),
    )
    session.add(event)
    relay = session.info.get(OUTBOX_WRITTEN)
    if relay is not None:
        wake_after_commit(session, relay)
    return event

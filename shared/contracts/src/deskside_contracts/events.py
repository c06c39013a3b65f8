"""The event envelope: what producers write to their outbox and webhooks carry."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deskside_contracts.common import UtcDateTime


class Event(BaseModel):
    """An event, as Standard Webhooks suggests: `id`, `type`, `timestamp`, then the data."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique event id (`evt_…`); consumers dedupe on it.")
    type: str = Field(description="For example `ticket.created`.")
    timestamp: UtcDateTime
    source: str = Field(description="The producing service: `tickets` or `inventory`.")
    subject: str = Field(description="The id of the aggregate the event is about.")
    data: dict[str, Any]

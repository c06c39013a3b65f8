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


# How many events one relay request may carry: small enough to answer well within a timeout.
MAX_BATCH = 100


class EventBatch(BaseModel):
    """What an outbox relay posts to notify's `POST /internal/events`, in outbox order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "evt_01JD3X5R8W4Q7T2Y9K3M6N1P0Z",
                            "type": "ticket.created",
                            "timestamp": "2026-11-23T09:30:00.000000Z",
                            "source": "tickets",
                            "subject": "tkt_01JD3X5R8W4Q7T2Y9K3M6N1P0A",
                            "data": {
                                "reference": "SD-000042",
                                "title": "Dropbox stopped syncing on my iPad",
                            },
                        }
                    ]
                }
            ]
        }
    )

    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH)


class EventBatchAccepted(BaseModel):
    """Notify's answer: every event is stored (new) or was already known (a retry)."""

    accepted: int = Field(description="Events stored for the first time.")
    duplicates: int = Field(description="Events notify already had; nothing was done twice.")

"""Contracts of the tickets service."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from deskside_contracts.common import RequestModel, ResponseModel, UtcDateTime


class TicketStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_REQUESTER = "waiting_on_requester"
    WAITING_ON_VENDOR = "waiting_on_vendor"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Person(ResponseModel):
    """Someone a ticket is about or for, as their identity provider names them."""

    id: str
    email: str | None = None
    name: str | None = None


class TicketCreate(RequestModel):
    """A new contact with the help desk."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Dropbox stopped syncing on my iPad",
                    "description": "Since this morning the Dropbox app shows 'waiting to upload'.",
                }
            ]
        }
    )

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)


class TicketRead(ResponseModel):
    """A ticket as the API shows it."""

    id: str
    reference: str = Field(description="The human reference number, e.g. `SD-000042`.")
    title: str
    description: str
    status: TicketStatus
    requester: Person
    version: int = Field(description="Bumped on every change; sent as the `ETag`.")
    created_at: UtcDateTime
    updated_at: UtcDateTime

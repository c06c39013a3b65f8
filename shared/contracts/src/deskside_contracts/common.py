"""Building blocks shared by every resource contract."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

# Moments Deskside deals in: arithmetic around them (30 days before, a week
# after) never leaves the range `datetime` can hold.
EARLIEST_YEAR, LATEST_YEAR = 1970, 9998


def _as_utc(value: datetime) -> datetime:
    # A naive timestamp is taken to be UTC already: that is how Deskside stores them.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the moment falls outside the calendar once in UTC") from None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"the year must be from {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


def _format_rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


UtcDateTime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(_format_rfc3339, return_type=str, when_used="json"),
]
"""A timestamp that is always UTC and always written as RFC 3339 with a `Z`."""


class Role(StrEnum):
    """The roles a caller's token may carry in its `roles` claim."""

    REQUESTER = "requester"
    AGENT = "agent"
    ADMIN = "admin"
    INTEGRATION = "integration"


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are refused, never ignored.

    Refusing extras stops mass assignment (a client setting `status` or
    `reference` on create) and tells a client at once that it misspelled a field.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """Base of every response body."""

    # A field named `from_` is written `from`: built by name, documented and sent by alias.
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)

"""Settings of the tickets service (`DESKSIDE_TICKETS_…`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from deskside_kit.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DESKSIDE_TICKETS_", extra="ignore", frozen=True, validate_by_name=True
    )
    service_name: ClassVar[str] = "tickets"

    reference_prefix: str = Field(
        default="SD",
        pattern=r"^[A-Z][A-Z0-9]{0,9}$",
        description="Prefix of ticket references: `SD` gives `SD-000042`.",
    )

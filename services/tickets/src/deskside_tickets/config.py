"""Settings of the tickets service (`DESKSIDE_TICKETS_…`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from deskside_kit.settings import RelaySettings, ServiceSettings


class TicketsSettings(ServiceSettings, RelaySettings):
    model_config = SettingsConfigDict(
        env_prefix="DESKSIDE_TICKETS_", extra="ignore", frozen=True, validate_by_name=True
    )
    service_name: ClassVar[str] = "tickets"

    reference_prefix: str = Field(
        default="SD",
        pattern=r"^[A-Z][A-Z0-9]{0,9}$",
        description="Prefix of ticket references: `SD` gives `SD-000042`.",
    )
    inventory_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8002"),
        description="Where tickets asks inventory about a ticket's technology.",
    )
    inventory_timeout: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="Seconds to wait for inventory before creating the ticket without "
        "the technology snapshot (filled in later).",
    )
    reopen_window_days: int = Field(
        default=14, ge=0, description="Days after closing during which a ticket may be reopened."
    )
    auto_close_days: int = Field(
        default=7, ge=1, description="Days after which a resolved ticket closes by itself."
    )
    housekeeping_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between runs of the background jobs (auto-close, enrichment).",
    )
    snapshot_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="Seconds a replica keeps its copy of the SLA policies, which every ticket "
        "read needs, and of which group takes each tier, which every create needs. A change "
        "through one replica shows on the others within this time; 0 reads them on every "
        "request.",
    )
    inbound_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Standard Webhooks secrets of the mail and monitoring integrations, as JSON: "
        '`{"mailgun": "whsec_...", "alertmanager": "whsec_..."}`. Inbound email and alerts '
        "signed with none of them are refused.",
    )
    inbound_interval: float = Field(
        default=10.0, gt=0, description="Seconds between runs of the inbound processor."
    )
    inbound_process_at_once: bool = Field(
        default=True,
        description="Also process an inbound message right after it is stored, not only on "
        "the processor's next round.",
    )

"""Settings of the inventory service (`DESKSIDE_INVENTORY_…`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from deskside_kit.settings import RelaySettings, ServiceSettings


class InventorySettings(ServiceSettings, RelaySettings):
    model_config = SettingsConfigDict(
        env_prefix="DESKSIDE_INVENTORY_", extra="ignore", frozen=True, validate_by_name=True
    )
    service_name: ClassVar[str] = "inventory"

    load_starter_catalog: bool | None = Field(
        default=None,
        description="Load the starter catalog at start-up when the catalog is empty. "
        "Default: yes in development (the embedded stack), no otherwise.",
    )

    @property
    def should_load_starter_catalog(self) -> bool:
        if self.load_starter_catalog is None:
            return self.env == "development"
        return self.load_starter_catalog

    check_in_stale_days: int = Field(
        default=30,
        ge=1,
        description="Days without a check-in after which a device is noncompliant.",
    )
    housekeeping_interval: float = Field(
        default=300.0, gt=0, description="Seconds between compliance rechecks of stale devices."
    )
    checkin_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Standard Webhooks secrets of the device-management integrations, as JSON: "
        '`{"intune": "whsec_..."}`. Check-ins signed with none of them are refused.',
    )

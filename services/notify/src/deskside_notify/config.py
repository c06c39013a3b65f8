"""Settings of the notify service (`DESKSIDE_NOTIFY_…`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from deskside_kit.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DESKSIDE_NOTIFY_", extra="ignore", frozen=True, validate_by_name=True
    )
    service_name: ClassVar[str] = "notify"

"""Settings of the gateway (`DESKSIDE_GATEWAY_…`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AnyHttpUrl, Field
from pydantic_settings import SettingsConfigDict

from deskside_kit.settings import JwtSettings


class GatewaySettings(JwtSettings):
    # The gateway checks tokens only to know whom to rate-limit; each service
    # still verifies every request itself.
    model_config = SettingsConfigDict(
        env_prefix="DESKSIDE_GATEWAY_", extra="ignore", frozen=True, validate_by_name=True
    )
    service_name: ClassVar[str] = "gateway"

    tickets_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8001"), description="Base URL of the tickets service."
    )
    inventory_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8002"),
        description="Base URL of the inventory service.",
    )
    notify_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8003"), description="Base URL of the notify service."
    )
    upstream_connect_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to open a connection to a service (then 504)."
    )
    upstream_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a service may stay silent while answering (then 504).",
    )
    max_connections: int = Field(
        default=200, ge=1, description="Open connections to all services together, at most."
    )
    trust_forwarded_headers: bool = Field(
        default=False,
        description="Keep incoming X-Forwarded-* (only behind a proxy you run); "
        "otherwise they are replaced, so callers cannot forge their address.",
    )

    rate_limit_enabled: bool = Field(
        default=True, description="Throttle each caller (token subject, else address)."
    )
    rate_limit_per_second: float = Field(
        default=10.0, gt=0, description="Requests a second each caller may keep up, per replica."
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests a caller may send at once before being slowed."
    )

    def upstream_urls(self) -> dict[str, str]:
        """Service name to base URL without a trailing slash."""
        return {
            "tickets": str(self.tickets_url).rstrip("/"),
            "inventory": str(self.inventory_url).rstrip("/"),
            "notify": str(self.notify_url).rstrip("/"),
        }

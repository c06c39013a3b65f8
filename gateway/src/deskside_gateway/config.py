"""Settings of the gateway (`DESKSIDE_GATEWAY_…`)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar, Self

from pydantic import AnyHttpUrl, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from deskside_kit.settings import JwtSettings

# What a browser sends as `Origin`: scheme, lower-case host, and a port only when not the default.
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
_DEFAULT_PORTS = (("http://", ":80"), ("https://", ":443"))


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

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins whose pages may call the API from a browser, as a JSON list "
        'or separated by commas: `["https://desk.example.com"]`; `*` for every origin. '
        "Empty: no cross-origin access.",
    )
    cors_allow_credentials: bool = Field(
        default=False,
        description="Let those pages send cookies or HTTP authentication "
        "(`credentials: 'include'`); bearer tokens in `Authorization` do not need it.",
    )
    cors_max_age: int = Field(
        default=600,
        ge=0,
        le=86_400,
        description="Seconds a browser may reuse a preflight answer (Chromium keeps it 2 h "
        "at most).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list of origins ({exc})") from None
            return [part for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        # Browsers send the host in lower case; the comparison is exact.
        origins = [origin.strip().lower() for origin in origins]
        for origin in origins:
            if origin == "*":
                continue
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], "
                    "without a path or a trailing slash"
                )
            if any(origin.startswith(s) and origin.endswith(p) for s, p in _DEFAULT_PORTS):
                raise ValueError(f"{origin!r}: leave out the default port, as browsers do")
        if "*" in origins and len(origins) > 1:
            raise ValueError("'*' already allows every origin; give it alone")
        return origins

    @model_validator(mode="after")
    def _no_credentials_for_every_origin(self) -> Self:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError(
                f"{self.env_name('cors_allow_credentials')} cannot be true while "
                f"{self.env_name('cors_origins')} allows every origin ('*'): list the origins"
            )
        return self

    def upstream_urls(self) -> dict[str, str]:
        """Service name to base URL without a trailing slash."""
        return {
            "tickets": str(self.tickets_url).rstrip("/"),
            "inventory": str(self.inventory_url).rstrip("/"),
            "notify": str(self.notify_url).rstrip("/"),
        }

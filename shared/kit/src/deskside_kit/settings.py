"""The settings base every service extends.

Each service has one pydantic-settings class with its own prefix
(`DESKSIDE_TICKETS_…`). Settings that must agree across the stack (the token
key, the environment, the `var/` folder) have one global name instead
(`DESKSIDE_JWT_SECRET`), so one exported variable configures every process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AliasChoices,
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from deskside_kit.limits import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_LARGE_BODY_BYTES

Environment = Literal["development", "test", "production"]


def _global(name: str) -> Any:
    """A field read from one stack-wide variable, whatever the service prefix."""
    return AliasChoices(name)


class StackSettings(BaseSettings):
    """Settings every Deskside process has, the gateway included."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, validate_by_name=True)

    service_name: ClassVar[str] = "deskside"

    env: Environment = Field(
        default="development",
        validation_alias=_global("DESKSIDE_ENV"),
        description="`development` (embedded default), `test` or `production`.",
    )
    var_dir: Path = Field(
        default=Path("var"),
        validation_alias=_global("DESKSIDE_VAR_DIR"),
        description="Folder for the embedded default's SQLite files, mail and secrets.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=_global("DESKSIDE_LOG_LEVEL")
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        validation_alias=_global("DESKSIDE_MAX_BODY_BYTES"),
        description="Largest request body, in bytes (413 above).",
    )
    max_large_body_bytes: int = Field(
        default=DEFAULT_MAX_LARGE_BODY_BYTES,
        ge=1024,
        validation_alias=_global("DESKSIDE_MAX_LARGE_BODY_BYTES"),
        description="Largest body of inbound email and alerts, and of escalations with "
        "evidence, in bytes (413 above).",
    )

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe in production: one sentence per variable.

        Subclasses add their own to `super()`'s, so a refused start lists
        every problem at once rather than one per attempt.
        """
        return []

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.env == "production" and (problems := self.production_problems()):
            raise ValueError("\n  ".join(problems))
        return self

    @classmethod
    def env_prefix(cls) -> str:
        return str(cls.model_config.get("env_prefix", ""))

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field`."""
        info = cls.model_fields[field]
        if isinstance(info.validation_alias, AliasChoices):
            return str(info.validation_alias.choices[0])
        return f"{cls.env_prefix()}{field}".upper()


class JwtSettings(StackSettings):
    """How tokens are checked: what every service and the token tool share."""

    jwt_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_global("DESKSIDE_JWT_SECRET"),
        description="HS256 key. Empty in development: one is made in `var/jwt-secret`.",
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        validation_alias=_global("DESKSIDE_JWT_JWKS_URL"),
        description="JWKS URL of an OpenID Connect provider; used instead of the secret.",
    )
    jwt_issuer: str = Field(default="deskside", validation_alias=_global("DESKSIDE_JWT_ISSUER"))
    jwt_audience: str = Field(default="deskside", validation_alias=_global("DESKSIDE_JWT_AUDIENCE"))

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.jwt_jwks_url is None:
            problems += secret_problems(
                "DESKSIDE_JWT_SECRET", self.jwt_secret, "or set DESKSIDE_JWT_JWKS_URL"
            )
        return problems

    def resolved_jwt_secret(self) -> str | None:
        """The HS256 key; in development, made once in `var/` and shared by every process."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.jwt_jwks_url is not None:
            return None
        return load_or_create_secret(self.var_dir / "jwt-secret")


# Connections a service keeps open to its database, unless DATABASE_POOL_SIZE says otherwise.
DEFAULT_POOL_SIZE = 10
# How long a request waits for one of them (DATABASE_POOL_TIMEOUT): a storm's queue is far
# shorter, and the gateway gives up on a silent service at 30 s.
DEFAULT_POOL_TIMEOUT = 10.0


class ServiceSettings(JwtSettings):
    """Settings every Deskside service with a database has."""

    service_name: ClassVar[str] = "service"

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means `sqlite+aiosqlite:///<var_dir>/<service>.db`.",
    )
    database_pool_size: int = Field(
        default=DEFAULT_POOL_SIZE,
        ge=1,
        le=1000,
        description="Database connections the process keeps open; a request finding all "
        "of them busy waits for one (see `deskside_kit.database.create_engine`).",
    )
    database_pool_timeout: float = Field(
        default=DEFAULT_POOL_TIMEOUT,
        gt=0,
        le=300,
        description="Seconds a request waits for a free database connection before it is "
        "answered 503 with Retry-After.",
    )
    migrate_on_start: bool | None = Field(
        default=None,
        description="Apply migrations at start-up. Default: yes, except in production.",
    )
    service_token: SecretStr | None = Field(
        default=None,
        validation_alias=_global("DESKSIDE_SERVICE_TOKEN"),
        description="Credential of service-to-service calls (`X-Deskside-Service-Token`). "
        "Empty in development: one is made in `var/service-token`.",
    )

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.resolved_database_url.startswith("sqlite"):
            problems.append(
                f"{self.env_name('database_url')} must name a PostgreSQL database in production"
            )
        return problems + secret_problems("DESKSIDE_SERVICE_TOKEN", self.service_token)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / f'{self.service_name}.db'}"

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is None:
            return self.env != "production"
        return self.migrate_on_start

    def resolved_service_token(self) -> str | None:
        """The service credential; in development, made once in `var/` like the JWT key."""
        if self.service_token is not None:
            return self.service_token.get_secret_value()
        if self.env == "production":
            return None  # service calls stay off until one is configured
        return load_or_create_secret(self.var_dir / "service-token")


# Example values in deploy/ (the Kubernetes Secret, the docs) start with this, so a
# deployment that forgot to replace one is refused instead of running with a known key.
EXAMPLE_SECRET_PREFIX = "change-me"  # noqa: S105 - the marker of a placeholder, not a secret
MINIMUM_SECRET_LENGTH = 32


def secret_problems(variable: str, value: SecretStr | None, otherwise: str = "") -> list[str]:
    """What is wrong with a production secret: empty, short or the example value."""
    text = value.get_secret_value() if value is not None else ""
    hint = f" ({otherwise})" if otherwise else ""
    if text.lower().startswith(EXAMPLE_SECRET_PREFIX):
        return [
            f"{variable} still holds the example value; generate a real one "
            f"(openssl rand -base64 48){hint}"
        ]
    if len(text) < MINIMUM_SECRET_LENGTH:
        return [f"{variable} must be set in production, {MINIMUM_SECRET_LENGTH}+ characters{hint}"]
    return []


class RelaySettings(BaseSettings):
    """Settings of a service whose outbox a relay sends on to notify; mixed into its class.

    The fields take the service's prefix: `DESKSIDE_TICKETS_NOTIFY_URL`.
    """

    notify_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8003"),
        description="Where the outbox relay posts events (notify's `/internal/events`).",
    )
    relay_enabled: bool = Field(
        default=True,
        description="Run the outbox relay in this process; off only for tests and tools.",
    )
    relay_interval: float = Field(
        default=0.5, gt=0, description="Seconds between looks at the outbox for new events."
    )
    relay_linger: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Seconds a relay round waits before it reads the outbox, so the events "
        "of a burst leave in one batch rather than one request each.",
    )


def load_or_create_secret(path: Path) -> str:
    """Read the secret in `path`, creating it atomically if it does not exist yet.

    Several processes start at once in the embedded stack; linking a fully
    written temporary file into place means exactly one of them wins and no
    one ever reads a half-written key.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    candidate.write_text(secrets.token_urlsafe(48))
    candidate.chmod(0o600)
    try:
        path.hardlink_to(candidate)
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return path.read_text().strip()


SettingsT = TypeVar("SettingsT", bound=StackSettings)


class SettingsError(SystemExit):
    """A setting is wrong; the message names the variable."""


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Read settings from the environment, or stop with a message naming each bad variable.

    With `DESKSIDE_SECRETS_DIR` set, a file there named after a variable
    (`DESKSIDE_JWT_SECRET`) gives its value when the environment does not: how
    Kubernetes Secrets and the compose stack's generated secrets are mounted.
    """
    secrets_dir = os.environ.get("DESKSIDE_SECRETS_DIR") or None
    try:
        return settings_class(_secrets_dir=secrets_dir)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            location = error["loc"]
            field = str(location[0]) if location else ""
            if field in settings_class.model_fields:
                variable: str | None = settings_class.env_name(field)
            else:
                # Stack-wide settings report their variable itself (`DESKSIDE_LOG_LEVEL`).
                variable = field if field.startswith("DESKSIDE_") else None
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"  {variable}: {message}" if variable else f"  {message}")
        raise SettingsError(
            f"Deskside {settings_class.service_name}: invalid configuration\n" + "\n".join(lines)
        ) from None


# The device-management integration of the embedded development stack, whose check-ins
# `make seed` signs: the secret is derived from a random key kept in `var/`.
DEMO_CHECKIN_INTEGRATION = "demo-mdm"


def demo_checkin_secret(var_dir: Path) -> str:
    """The `whsec_…` secret of the development stack's demo device-management integration."""
    key = load_or_create_secret(var_dir / "demo-mdm-secret")
    return "whsec_" + base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()

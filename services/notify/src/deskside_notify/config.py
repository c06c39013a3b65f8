"""Settings of the notify service (`DESKSIDE_NOTIFY_…`)."""

from __future__ import annotations

from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from deskside_kit.settings import ServiceSettings
from deskside_notify.mail import HeaderInjection, ascii_domain, configured_mailbox


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DESKSIDE_NOTIFY_", extra="ignore", frozen=True, validate_by_name=True
    )
    service_name: ClassVar[str] = "notify"

    # --- email ---------------------------------------------------------------------------------
    mail_transport: Literal["file", "smtp"] = Field(
        default="file",
        description="`file` writes each email as an `.eml` file under `mail_dir` (the embedded "
        "default); `smtp` sends through `smtp_host`.",
    )
    mail_dir: Path | None = Field(
        default=None, description="Where the `file` transport writes. Default: `<var_dir>/mail`."
    )
    mail_from: str = Field(
        default="Deskside Help Desk <helpdesk@deskside.local>",
        description="The From of every email; its domain also names the Message-IDs.",
    )
    inbound_address: str | None = Field(
        default=None,
        description="The Reply-To of ticket mail: the mailbox whose messages reach tickets' "
        "`/v1/inbound/email`, so a reply becomes a comment. Default: the `mail_from` address.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where people reach Deskside (the gateway); links in emails start with it.",
    )
    smtp_host: str = Field(default="localhost")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="`starttls` (port 587), `tls` (implicit TLS, port 465) or `none`.",
    )
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds per SMTP operation.")
    mail_retry_initial: float = Field(
        default=30.0, gt=0, description="Seconds before the first retry of a mail not yet sent."
    )
    mail_retry_max: float = Field(
        default=1800.0, gt=0, description="The longest wait between retries: mail never expires."
    )
    admin_emails: list[str] = Field(
        default_factory=list,
        description="Who hears when a webhook endpoint is disabled, as JSON: "
        '`["ops@example.com"]`.',
    )

    # --- webhooks ------------------------------------------------------------------------------
    webhook_allow_http: bool = Field(
        default=False, description="Allow `http://` webhook URLs; `https` is required otherwise."
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback and private networks: for the embedded "
        "stack and tests only. Refused in production (SSRF).",
    )
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds per delivery attempt.")
    webhook_disable_after: int = Field(
        default=10, ge=1, description="Consecutive failed messages after which an endpoint is off."
    )

    # --- workers -------------------------------------------------------------------------------
    delivery_interval: float = Field(
        default=0.5, gt=0, description="Seconds between looks for due emails and webhooks."
    )
    delivery_wake_on_commit: bool = Field(
        default=True,
        description="Send new emails and webhooks as soon as this process stores them, not "
        "only at the next look; off only for tests that run the workers' rounds themselves.",
    )
    delivery_batch_size: int = Field(default=20, ge=1, le=500)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.webhook_allow_private:
            problems.append(
                f"{self.env_name('webhook_allow_private')} must be false in production: "
                "webhooks to loopback and private addresses would let anyone probe the "
                "internal network"
            )
        if self.mail_transport == "file":
            problems.append(
                f"{self.env_name('mail_transport')} must be smtp in production: "
                "mail written to files reaches nobody"
            )
        return problems

    @model_validator(mode="after")
    def _require_a_sender_address(self) -> Self:
        # Checked as every mail will check it, so a sender no mail could carry stops the
        # service at start-up rather than failing each mail.
        for name, value in (
            ("mail_from", self.mail_from),
            ("inbound_address", self.inbound_address),
        ):
            if value is None:
                continue
            try:
                configured_mailbox(name, value)
            except HeaderInjection:
                raise ValueError(f"{self.env_name(name)} must hold one email address") from None
        return self

    @property
    def resolved_mail_dir(self) -> Path:
        return self.mail_dir or self.var_dir / "mail"

    # Cached: every mail asks, and the settings never change (the model is frozen).
    @cached_property
    def sender_address(self) -> str:
        return parseaddr(self.mail_from)[1]

    @cached_property
    def mail_domain(self) -> str:
        # As DNS carries it: it ends every Message-ID, which must be ASCII.
        return ascii_domain(self.sender_address.rpartition("@")[2])

    @property
    def reply_to(self) -> str:
        return self.inbound_address or self.sender_address

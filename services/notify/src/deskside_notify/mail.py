"""Building the email of a notification, and the transports that send it.

Every mail about a ticket refers to one virtual root message,
`<ticket.{id}@{domain}>`, in `In-Reply-To` and `References`: mail clients
thread a ticket's mail together, and a reply names its ticket even if the
subject was edited. No header value may hold CR or LF: one that does is
refused rather than cleaned, since it can only come from a bug or an attack.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import aiosmtplib

if TYPE_CHECKING:
    from deskside_notify.rules import Recipient
    from deskside_notify.templates import RenderedEmail

# CRLF line ends as SMTP wants them, and a malformed header is an error, not a guess.
_POLICY = policy.SMTP.clone(raise_on_defect=True)
# CR, LF and the other control characters a header value must never carry.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HeaderInjection(ValueError):
    """A header value with a line break or control character in it."""


class TransportError(Exception):
    """The mail was not sent; `temporary` says whether trying again can help."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


def new_message_id(domain: str) -> str:
    return make_msgid(idstring=secrets.token_hex(4), domain=domain)


def thread_root_id(ticket_id: str, domain: str) -> str:
    return f"<ticket.{ticket_id}@{domain}>"


def _checked(name: str, value: str) -> str:
    if _CONTROL.search(value):
        raise HeaderInjection(f"The {name} header holds a line break or control character.")
    return value


def build_message(
    *,
    rendered: RenderedEmail,
    sender: str,
    recipient: Recipient,
    reply_to: str | None,
    message_id: str,
    ticket_reference: str | None,
    thread_id: str | None,
) -> EmailMessage:
    subject = _checked("Subject", rendered.subject)
    if ticket_reference and not subject.startswith(f"[{ticket_reference}]"):
        subject = f"[{_checked('Subject', ticket_reference)}] {subject}"
    message = EmailMessage(policy=_POLICY)
    message["From"] = _checked("From", sender)
    address = _checked("To", recipient.email)
    if "@" not in parseaddr(address)[1]:
        raise HeaderInjection(f"The To address {address!r} is not an email address.")
    # An Address, not a `formataddr` string: the policy re-parses strings, and a
    # non-ASCII name with a comma ("Zoë Ames, IT") would come out as two recipients.
    name = _checked("To", recipient.name or "")
    try:
        to = Address(display_name=name, addr_spec=address)
    except ValueError as exc:  # a malformed address is refused for good, like an injected one
        raise HeaderInjection(f"The To address {address!r} is not an email address.") from exc
    message["To"] = to
    if reply_to:
        message["Reply-To"] = _checked("Reply-To", reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = _checked("Message-ID", message_id)
    if thread_id:
        message["In-Reply-To"] = _checked("In-Reply-To", thread_id)
        message["References"] = thread_id
    # RFC 3834: out-of-office replies must not answer this, so no mail loop starts.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class FileTransport:
    """Writes each message as an `.eml` file: the embedded default, readable by any mail client."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:12]
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{digest}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(message.as_bytes())
        # Renamed into place whole: a reader never sees half a message.
        os.replace(partial, self.directory / name)


class SmtpTransport:
    """Sends through an SMTP server (STARTTLS or TLS, optional login, timeouts)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        security: str,
        timeout: float,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.security, self.timeout = security, timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            raise TransportError(
                f"The SMTP server refused the recipient: {exc}",
                temporary=all(400 <= code < 500 for code in codes),
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise TransportError(
                f"The SMTP server answered {exc.code} {exc.message}",
                temporary=not 500 <= exc.code < 600,
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Down, unreachable or slow: the mail waits and is tried again.
            raise TransportError(
                f"The SMTP server at {self.host}:{self.port} cannot be reached: {exc}",
                temporary=True,
            ) from None

"""Building the email of a notification, and the transports that send it.

Every mail about a ticket refers to one virtual root message,
`<ticket.{id}@{domain}>`, in `In-Reply-To` and `References`: mail clients
thread a ticket's mail together, and a reply names its ticket even if the
subject was edited. No header value may hold CR or LF: one that does is
refused rather than cleaned, since it can only come from a bug or an attack.

Messages are built with the standard library's classic `email.mime` classes
(policy `compat32`), not `EmailMessage`: that one parses every header value it
is given and again when it writes the message out, and took 1.5 to 1.8 ms of CPU per
mail, two fifths of notify's time under a storm of events; this takes about 0.35.
What the classic classes leave to the caller is done here: names and subjects
that are not plain ASCII become RFC 2047 encoded words, every address is
parsed and written in its normal form (domains in IDNA), bodies are UTF-8 in
quoted-printable with no line starting "From ", and the MIME boundary cannot
occur in such a body. Both transports send the bytes `as_bytes` writes, byte
for byte what compat32's writer makes (short headers are written directly,
see `_Compat32AsIs`). A property test checks that, and that names, subjects
and bodies of any text come back as they went in (headers up to runs of
spaces, bodies up to their line ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from email import quoprimime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiosmtplib
import idna

if TYPE_CHECKING:
    from deskside_notify.rules import Recipient
    from deskside_notify.templates import RenderedEmail


class _Compat32AsIs(Compat32):
    """compat32, but a header that fits on its line is written as it is.

    compat32 runs every header through `email.header.Header` to fold it: three
    quarters of the CPU of writing a message out. A plain ASCII header no longer
    than a line (78 characters, its name included) comes out of that unchanged,
    so it is written directly; a test checks whole messages against compat32's
    own output.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + 2 + len(value) <= (self.max_line_length or 0)
            and "\r" not in value
            and "\n" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


# CRLF line ends, as mail travels; both transports write the message out with this.
# (">From" is kept out of bodies by `_text_part`.)
_POLICY = _Compat32AsIs(linesep="\r\n")
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)
# CR, LF and the other control characters a header value must never carry, and lone
# surrogates (valid in JSON, not in UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


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
        raise HeaderInjection(f"The {name} header holds a line break or another control character.")
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
) -> Message:
    subject = _checked("Subject", rendered.subject)
    if ticket_reference and not subject.startswith(f"[{ticket_reference}]"):
        subject = f"[{_checked('Subject', ticket_reference)}] {subject}"
    # "=_" never occurs in quoted-printable text, so no body can end a part early.
    message = MIMEMultipart("alternative", boundary=f"=_{secrets.token_hex(16)}", policy=_POLICY)
    message["From"] = configured_mailbox("From", sender)
    message["To"] = mailbox("To", recipient.name or "", recipient.email)
    if reply_to:
        message["Reply-To"] = configured_mailbox("Reply-To", reply_to)
    message["Subject"] = subject if _plain(subject) else _words("Subject", subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = _checked("Message-ID", message_id)
    if thread_id:
        message["In-Reply-To"] = _checked("In-Reply-To", thread_id)
        message["References"] = thread_id
    # RFC 3834: out-of-office replies must not answer this, so no mail loop starts.
    message["Auto-Submitted"] = "auto-generated"
    message.attach(_text_part("plain", rendered.text))
    message.attach(_text_part("html", rendered.html))
    return message


@functools.lru_cache(maxsize=32)
def configured_mailbox(header: str, value: str) -> str:
    """A configured sender ("Name <addr>" or "addr") as the header's text, as `mailbox`.

    Kept once worked out: the same few settings head every mail.
    """
    addresses = getaddresses([_checked(header, value)])
    if len(addresses) != 1:
        raise HeaderInjection(f"The {header} header {value!r} is not one email address.")
    return mailbox(header, *addresses[0])


def mailbox(header: str, name: str, address: str) -> str:
    """One mailbox as the header's ASCII text: `"Name" <local@domain>`, or the address alone.

    A name is quoted, or made of encoded words when it is not plain ASCII, so a
    comma in it ("Zoë Ames, IT") never makes two recipients. A domain in another
    script goes out in its IDNA form; a local part in one cannot be sent without
    SMTPUTF8 and is refused, like any address that does not parse.
    """
    _checked(header, name)
    refused = HeaderInjection(f"The {header} address {address!r} is not an email address.")
    if "@" not in _checked(header, address):
        raise refused
    try:
        parsed = Address(addr_spec=address)  # strict: one address and nothing around it
        domain = ascii_domain(parsed.domain)
    except (ValueError, UnicodeError, IndexError, AttributeError, HeaderParseError) as exc:
        # Everything the standard library's address parser raises on a malformed one.
        raise refused from exc
    if not parsed.username:
        raise refused
    if not parsed.username.isascii():
        raise HeaderInjection(f"The {header} address {address!r} is not ASCII before the @.")
    addr_spec = Address(username=parsed.username, domain=domain).addr_spec
    if not name.strip():
        return addr_spec
    if _plain(name):
        return formataddr((name, addr_spec))
    return f"{_words(header, name)} <{addr_spec}>"


def ascii_domain(domain: str) -> str:
    """A domain as DNS and SMTP carry it: names in other scripts in IDNA 2008 form.

    IDNA 2008 (with UTS 46 mapping), not Python's built-in IDNA 2003 codec, which
    would send mail for `straße.de` to `strasse.de`, a different domain.
    """
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise HeaderInjection(f"The domain {domain!r} is not a valid name.") from exc


def _plain(text: str) -> bool:
    # Written as it is: ASCII, nothing a reader would take for an encoded word, and no
    # word too long to fold within SMTP's 998-octet lines.
    return text.isascii() and "=?" not in text and all(len(word) < 900 for word in text.split())


def _words(header: str, text: str) -> str:
    # RFC 2047 encoded words of at most 75 characters each, separated by spaces, so
    # the header can be folded between them. Asked for lines of 74: with the default
    # the standard library lets a word run to 76.
    return Header(text, "utf-8", header_name=header).encode(linesep=" ", maxlinelen=74)


def _text_part(subtype: str, text: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=_POLICY, charset="utf-8")
    del part["MIME-Version"]  # the message says it once
    part["Content-Transfer-Encoding"] = "quoted-printable"
    # Lines of 74, not 76: room for the two characters "=46rom " adds. A line starting
    # "From " is written as ">From " by mbox-minded writers, aiosmtplib's among them;
    # encoded, it is left alone and reads the same.
    # A lone surrogate (valid in JSON, not in UTF-8) becomes "?" rather than failing the mail.
    utf8 = text.encode("utf-8", "replace").decode("latin-1")
    encoded = quoprimime.body_encode(utf8, maxlinelen=74)
    part.set_payload(_FROM_LINE.sub("=46rom ", encoded))
    return part


class MailTransport(Protocol):
    def connection(self) -> AbstractAsyncContextManager[None]:
        """Mail sent inside shares what a transport can share: one SMTP connection."""
        ...

    async def send(self, message: Message) -> None: ...


class FileTransport:
    """Writes each message as an `.eml` file: the embedded default, readable by any mail client."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def connection(self) -> AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()

    async def send(self, message: Message) -> None:
        # Written out here and only the file written in a thread: the thread then holds
        # the GIL for a moment, not for the whole of the message's writing out.
        digest = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:12]
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{digest}.eml"
        await asyncio.to_thread(self._write, name, message.as_bytes())

    def _write(self, name: str, content: bytes) -> None:
        partial = self.directory / f".{name}.part"
        try:
            partial.write_bytes(content)
        except FileNotFoundError:  # the directory is not there yet, or not any more
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(content)
        # Renamed into place whole: a reader never sees half a message.
        os.replace(partial, self.directory / name)


async def _sendmail(client: aiosmtplib.SMTP, message: Message) -> None:
    # The message as `build_message` made it, written out as the file transport writes
    # it (aiosmtplib's `send_message` would write it again with plain compat32). The
    # envelope is what `send_message` would take: From, and the one To.
    ((_, sender),) = getaddresses(message.get_all("From", []))
    recipients = [address for _, address in getaddresses(message.get_all("To", []))]
    await client.sendmail(sender, recipients, message.as_bytes())


class SmtpTransport:
    """Sends through an SMTP server (STARTTLS or TLS, optional login, timeouts).

    Mail sent within `connection()` shares one connection, opened for the first
    and closed after the last: a round of twenty mails is one TCP connection, one
    TLS handshake and one login, not twenty of each. A connection the server
    closed between two mails is opened again once; after any other failure it is
    dropped, and the next mail opens a new one.
    """

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
        self._sharing = False
        self._client: aiosmtplib.SMTP | None = None

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        self._sharing = True
        try:
            yield
        except BaseException:
            self._drop()  # a shutdown or a bug: no polite QUIT to wait for
            raise
        finally:
            self._sharing = False
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except BaseException as exc:
                client.close()
                if not isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError)):
                    raise  # cancelled: closed all the same

    async def send(self, message: Message) -> None:
        try:
            if self._sharing:
                await self._send_on_shared(message)
            else:
                async with self._connect() as client:
                    await _sendmail(client, message)
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

    async def _send_on_shared(self, message: Message) -> None:
        reused = self._client is not None and self._client.is_connected
        if not reused:
            self._drop()
            self._client = self._connect()
            await self._client.connect()
        client = self._client
        assert client is not None
        try:
            await _sendmail(client, message)
        except aiosmtplib.SMTPServerDisconnected:
            self._drop()
            if not reused:
                raise
            # Closed by the server between two mails (an idle timeout, a limit of mails per
            # connection): once more, on a new one. Had it gone after taking the message, it
            # is sent twice, as a retry later would: at least once, as ever.
            await self._send_on_shared(message)
        except BaseException:
            # A refusal leaves the session usable, but not every failure does: start afresh.
            self._drop()
            raise

    def _connect(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            timeout=self.timeout,
        )

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

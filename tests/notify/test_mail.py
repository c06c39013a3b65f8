"""The email itself: threading, headers that cannot be injected, and the transports."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deskside_notify.mail import (
    FileTransport,
    HeaderInjection,
    SmtpTransport,
    TransportError,
    build_message,
    new_message_id,
    thread_root_id,
)
from deskside_notify.rules import Recipient
from deskside_notify.templates import RenderedEmail
from tests.support.receivers import MailServer, mail_server
from tests.support.servers import free_ports

RENDERED = RenderedEmail(subject="We have your request", text="Hello", html="<p>Hello</p>")
ALICE = Recipient(email="alice@example.com", name="Alice Ames")


def message(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "rendered": RENDERED,
        "sender": "Deskside <helpdesk@example.com>",
        "recipient": ALICE,
        "reply_to": "helpdesk@example.com",
        "message_id": "<abc@example.com>",
        "ticket_reference": "SD-000042",
        "thread_id": thread_root_id("tkt_1", "example.com"),
        **overrides,
    }
    return build_message(**values)  # type: ignore[arg-type]


def test_ticket_mail_is_tagged_and_threaded() -> None:
    built = message()
    assert built["Subject"] == "[SD-000042] We have your request"
    assert built["In-Reply-To"] == built["References"] == "<ticket.tkt_1@example.com>"
    assert built["Reply-To"] == "helpdesk@example.com"
    assert built["To"] == "Alice Ames <alice@example.com>"
    assert built["Auto-Submitted"] == "auto-generated"
    assert [part.get_content_type() for part in built.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_the_tag_is_not_added_twice() -> None:
    rendered = RenderedEmail(subject="[SD-000042] Re: help", text="x", html="x")
    assert message(rendered=rendered)["Subject"] == "[SD-000042] Re: help"


def test_message_ids_are_fresh_and_in_the_deskside_domain() -> None:
    ids = {new_message_id("desk.example.com") for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"<[^<>@\s]+@desk\.example\.com>", value) for value in ids)


def test_mail_not_about_a_ticket_has_no_tag_and_no_thread() -> None:
    built = message(ticket_reference=None, thread_id=None, reply_to=None)
    assert built["Subject"] == "We have your request"
    assert built["In-Reply-To"] is None
    assert built["References"] is None
    assert built["Reply-To"] is None


@pytest.mark.parametrize("name", ["Zoë Ames, IT", "Ames, Alice", "Zoë", ""])
def test_the_recipient_stays_one_recipient_whatever_the_name(name: str) -> None:
    sent = message(recipient=Recipient(email="zoe@example.com", name=name)).as_bytes()
    read = message_from_bytes(sent, policy=policy.default)
    (address,) = read["To"].addresses
    assert (address.display_name, address.addr_spec) == (name, "zoe@example.com")


@pytest.mark.parametrize(
    "overrides",
    [
        {"rendered": RenderedEmail(subject="Hi\x00there", text="x", html="x")},
        {"recipient": Recipient(email="alice@example.com", name="Alice\x1b[2J")},
        {"recipient": Recipient(email="not an address")},
        {"recipient": Recipient(email="a@example.com, b@example.com")},
        {"message_id": "<abc@example.com>\nBcc: x@example.com"},
        {"thread_id": "<ticket.1@example.com>\r\nBcc: x@example.com"},
        {"rendered": RenderedEmail(subject="Hi\r\nBcc: all@example.com", text="x", html="x")},
        {"recipient": Recipient(email="alice@example.com", name="Alice\nBcc: x@example.com")},
        {"recipient": Recipient(email="alice@example.com\r\nBcc: x@example.com")},
        {"reply_to": "a@example.com\nBcc: x@example.com"},
        {"sender": "Desk <d@example.com>\rX-Evil: 1"},
    ],
)
def test_a_line_break_in_any_header_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(HeaderInjection):
        message(**overrides)


async def test_the_file_transport_writes_readable_eml_files(tmp_path: Path) -> None:
    await FileTransport(tmp_path / "mail").send(message())
    (path,) = (tmp_path / "mail").glob("*.eml")
    read = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert read["Subject"] == "[SD-000042] We have your request"
    assert not list((tmp_path / "mail").glob(".*"))  # no half-written file left


@pytest.fixture
async def smtp() -> AsyncIterator[MailServer]:
    async with mail_server() as server:
        yield server


def smtp_transport(port: int) -> SmtpTransport:
    return SmtpTransport(
        host="127.0.0.1", port=port, username=None, password=None, security="none", timeout=5
    )


async def test_smtp_delivers_to_a_real_server(smtp: MailServer) -> None:
    await smtp_transport(smtp.port).send(message())
    (received,) = smtp.messages
    assert received["Message-ID"] == "<abc@example.com>"
    assert received["References"] == "<ticket.tkt_1@example.com>"
    assert received.get_body(("plain",)).get_content().strip() == "Hello"  # type: ignore[union-attr]


async def test_a_refusing_server_is_a_temporary_failure(smtp: MailServer) -> None:
    smtp.refuse(True)
    with pytest.raises(TransportError) as caught:
        await smtp_transport(smtp.port).send(message())
    assert caught.value.temporary
    assert "451" in str(caught.value)


async def test_a_server_that_is_down_is_a_temporary_failure() -> None:
    (port,) = free_ports(1)
    with pytest.raises(TransportError) as caught:
        await smtp_transport(port).send(message())
    assert caught.value.temporary


class _UnknownRecipients:
    """An SMTP server that knows nobody: every recipient is refused for good."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 No such user here"


@pytest.fixture
def refusing_recipients() -> Iterator[int]:
    (port,) = free_ports(1)
    controller = Controller(_UnknownRecipients(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_an_unknown_recipient_is_a_permanent_failure(refusing_recipients: int) -> None:
    with pytest.raises(TransportError) as caught:
        await smtp_transport(refusing_recipients).send(message())
    assert not caught.value.temporary
    assert "550" in str(caught.value)

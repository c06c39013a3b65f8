"""The email itself: threading, headers that cannot be injected, and the transports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from deskside_notify.mail import (
    FileTransport,
    HeaderInjection,
    SmtpTransport,
    TransportError,
    build_message,
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


@pytest.mark.parametrize(
    "overrides",
    [
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

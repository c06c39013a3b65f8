"""The email itself: threading, headers that cannot be injected, and the transports."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, quote
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from aiosmtplib.email import flatten_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from deskside_notify.config import NotifySettings
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


def message(**overrides: object) -> Message:
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


def as_read(**overrides: object) -> EmailMessage:
    """The message as a mail client reads it: written out, then parsed."""
    read = message_from_bytes(message(**overrides).as_bytes(), policy=policy.default)
    assert isinstance(read, EmailMessage)
    return read


def test_ticket_mail_is_tagged_and_threaded() -> None:
    built = as_read()
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
    assert as_read(rendered=rendered)["Subject"] == "[SD-000042] Re: help"


def test_message_ids_are_fresh_and_in_the_deskside_domain() -> None:
    ids = {new_message_id("desk.example.com") for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"<[^<>@\s]+@desk\.example\.com>", value) for value in ids)


def test_mail_not_about_a_ticket_has_no_tag_and_no_thread() -> None:
    built = as_read(ticket_reference=None, thread_id=None, reply_to=None)
    assert built["Subject"] == "We have your request"
    assert built["In-Reply-To"] is None
    assert built["References"] is None
    assert built["Reply-To"] is None


@pytest.mark.parametrize("name", ["Zoë Ames, IT", "Ames, Alice", "Zoë", ""])
def test_the_recipient_stays_one_recipient_whatever_the_name(name: str) -> None:
    (address,) = as_read(recipient=Recipient(email="zoe@example.com", name=name))["To"].addresses
    assert (address.display_name, address.addr_spec) == (name, "zoe@example.com")


# Header text: anything printable, in any script, emoji and other non-BMP characters too.
_HEADER_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=150)
# Body text: anything, with the pieces that trip mail writers up mixed in.
_BODY_TEXT = st.lists(
    st.sampled_from(["From ", "\n", "\r\n", ".", "=", "=_", " "])
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    max_size=20,
).map("".join)
_ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bqBQ]\?[^?\s]*\?=")


def _squeezed(text: str) -> str:
    # What a reader sees of a header: its words, not runs of spaces at its edges.
    return " ".join(text.split())


def _decoded(raw: str) -> str:
    """A header's text as RFC 2047 reads it: unfolded, then its encoded words decoded."""
    return str(make_header(decode_header(re.sub(r"\r?\n(?=[ \t])", "", raw))))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_HEADER_TEXT,
    sender_name=_HEADER_TEXT,
    subject=_HEADER_TEXT,
    text=_BODY_TEXT,
    html=_BODY_TEXT,
)
def test_names_subjects_and_bodies_arrive_as_they_were_written(
    name: str, sender_name: str, subject: str, text: str, html: str
) -> None:
    built = message(
        sender=f'"{quote(sender_name)}" <helpdesk@example.com>',
        recipient=Recipient(email="zoe@example.com", name=name),
        rendered=RenderedEmail(subject=subject, text=text, html=html),
        ticket_reference=None,
    )
    # Written as both transports write it: byte for byte what the standard library's
    # compat32 writes, short headers included, with CRLF line ends.
    written = built.as_bytes()
    assert written == flatten_message(built).replace(b"\n", b"\r\n")
    assert max(len(line) for line in written.splitlines()) <= 998
    assert all(len(word) <= 75 for word in _ENCODED_WORD.findall(written))
    # Read as the standard says: the addresses parsed first, their names decoded after.
    read = message_from_bytes(written, policy=policy.compat32)
    for header, sent_name, sent_address in (
        ("To", name, "zoe@example.com"),
        ("From", sender_name, "helpdesk@example.com"),
    ):
        ((raw_name, address),) = getaddresses(read.get_all(header))
        assert address == sent_address
        assert _squeezed(_decoded(raw_name)) == _squeezed(sent_name)
    assert _squeezed(_decoded(read["Subject"])) == _squeezed(subject)
    plain, rich = read.get_payload()
    assert _lines(plain.get_payload(decode=True).decode()) == _lines(text)
    assert _lines(rich.get_payload(decode=True).decode()) == _lines(html)


def test_names_in_other_scripts_keep_their_addresses_intact() -> None:
    read = as_read(
        sender="Deskside Über <helpdesk@example.com>",
        reply_to="Sofía at the desk <desk@example.com>",
    )
    assert read["From"].addresses[0].addr_spec == "helpdesk@example.com"
    assert read["From"].addresses[0].display_name == "Deskside Über"
    assert read["Reply-To"].addresses[0].addr_spec == "desk@example.com"


@pytest.mark.parametrize(
    ("email", "sent_to"),
    [
        ("zoe@exämple.com", "zoe@xn--exmple-cua.com"),
        # IDNA 2008: Python's own IDNA 2003 codec would send this to strasse.de.
        ("kunde@straße.de", "kunde@xn--strae-oqa.de"),
    ],
)
def test_a_domain_in_another_script_goes_out_in_its_idna_form(email: str, sent_to: str) -> None:
    (address,) = as_read(recipient=Recipient(email=email))["To"].addresses
    assert address.addr_spec == sent_to


def test_message_ids_of_a_sender_in_another_script_are_ascii(tmp_path: Path) -> None:
    settings = NotifySettings(var_dir=tmp_path, mail_from="Desk <help@exämple.com>")
    assert settings.mail_domain == "xn--exmple-cua.com"


@pytest.mark.parametrize(
    "email",
    [
        "alice@example.com.",
        "alice@example..com",
        "alice@.example.com",
        "(alice@example.com",
        "alice@[bad",
        '""@example.com',
    ],
)
def test_a_malformed_address_is_refused_for_good_not_retried(email: str) -> None:
    # HeaderInjection makes the mail fail for good; any other error would be retried.
    with pytest.raises(HeaderInjection):
        message(recipient=Recipient(email=email))


def test_a_lone_surrogate_in_a_body_is_replaced_not_fatal() -> None:
    # Valid in a JSON string, so it can reach a template; it has no UTF-8 form.
    read = as_read(rendered=RenderedEmail(subject="s", text="a\ud800b", html="x"))
    plain = read.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().rstrip() == "a?b"


def test_a_long_unbroken_subject_stays_within_smtp_lines() -> None:
    subject = "x" * 1200
    written = message(rendered=RenderedEmail(subject=subject, text="x", html="x")).as_bytes()
    assert max(len(line) for line in written.splitlines()) <= 998
    assert _decoded(message_from_bytes(written, policy=policy.compat32)["Subject"]) == (
        f"[SD-000042] {subject}"
    )


def test_an_address_that_is_not_ascii_before_the_at_is_refused_for_good() -> None:
    with pytest.raises(HeaderInjection):
        message(recipient=Recipient(email="zoë@example.com"))


@pytest.mark.parametrize("field", ["mail_from", "inbound_address"])
@pytest.mark.parametrize(
    "value",
    [
        "Desk <zoë@example.com>",
        "a@example.com, b@example.com",
        "the help desk",
        "Desk <help@example.com>\n",
        "help@example..com",
    ],
)
def test_a_sender_no_mail_could_carry_stops_notify_at_start_up(
    field: str, value: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match=f"DESKSIDE_NOTIFY_{field.upper()}"):
        NotifySettings(var_dir=tmp_path, **{field: value})


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
        {"recipient": Recipient(email="alice@example.com", name="Alice \ud800")},
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


async def test_the_file_transport_makes_its_directory_again_if_it_went(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "mail")
    await transport.send(message(message_id="<first@example.com>"))
    shutil.rmtree(tmp_path / "mail")
    await transport.send(message(message_id="<second@example.com>"))
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


@pytest.fixture
async def smtp() -> AsyncIterator[MailServer]:
    async with mail_server() as server:
        yield server


def smtp_transport(port: int) -> SmtpTransport:
    return SmtpTransport(
        host="127.0.0.1", port=port, username=None, password=None, security="none", timeout=5
    )


async def test_smtp_delivers_to_a_real_server(smtp: MailServer) -> None:
    # A comment quoted in the mail may start a line with "From ": it arrives as written.
    text = "Hello\nFrom now on, use the portal.\n.\nZoë"
    rendered = RenderedEmail(subject="Ünïcode too", text=text, html="<p>Hello</p>")
    await smtp_transport(smtp.port).send(message(rendered=rendered))
    (received,) = smtp.messages
    assert received["Message-ID"] == "<abc@example.com>"
    assert received["References"] == "<ticket.tkt_1@example.com>"
    assert received["Subject"] == "[SD-000042] Ünïcode too"
    plain = received.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == text


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

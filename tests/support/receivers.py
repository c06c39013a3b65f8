"""Real receivers for what notify sends: a webhook endpoint and an SMTP server, on loopback.

The webhook receiver verifies every request with the `standardwebhooks`
library, as a subscriber would, and answers from a script of status codes;
the SMTP server is aiosmtpd, which can be told to refuse mail for a while.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from standardwebhooks.webhooks import Webhook
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tests.support.servers import free_ports, serving_over_http


@dataclass
class ReceivedWebhook:
    webhook_id: str
    timestamp: int
    verified: bool
    body: bytes
    headers: dict[str, str]
    received_at: float

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class WebhookReceiver:
    """An endpoint that records every request and answers the next scripted status."""

    secret: str | None = None
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    received: list[ReceivedWebhook] = field(default_factory=list)
    url: str = ""
    # While set and not yet fired, every request is recorded and then waits for it to answer.
    hold: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = Request(scope, receive)
        body = await request.body()
        verified = False
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, dict(request.headers))
                verified = True
            except Exception:  # noqa: S110  (recorded as unverified)
                pass
        self.received.append(
            ReceivedWebhook(
                webhook_id=request.headers.get("webhook-id", ""),
                timestamp=int(request.headers.get("webhook-timestamp", "0") or 0),
                verified=verified,
                body=body,
                headers=dict(request.headers),
                received_at=time.monotonic(),
            )
        )
        if self.hold is not None:
            await self.hold.wait()
        status = self.script.pop(0) if self.script else self.default_status
        await Response(b"ok" if status < 300 else b"nope", status, headers=self.headers)(
            scope, receive, send
        )

    def ids(self) -> list[str]:
        return [item.webhook_id for item in self.received]

    async def wait_for(self, count: int, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} webhooks arrived, not {count}")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def webhook_receiver(secret: str | None = None) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret=secret)
    async with serving_over_http(receiver, lifespan="off") as url:
        receiver.url = f"{url}/hooks"
        yield receiver


# Mail for this domain is refused at RCPT, for good (550).
REFUSED_DOMAIN = "@refuse.test"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.sessions: list[Session] = []  # the connection each message came over, in order
        self.refusing = False
        self.hanging_up = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith(REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusing:
            return "451 4.3.0 Try again later"
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.sessions.append(session)
        if self.hanging_up and server.transport is not None:
            # Right after the answer, as a server ending idle or over-long sessions does.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 OK"


@dataclass
class MailServer:
    host: str
    port: int
    inbox: _Inbox

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    @property
    def connections(self) -> int:
        """How many SMTP connections the messages came over."""
        return len({id(session) for session in self.inbox.sessions})

    def refuse(self, refusing: bool) -> None:
        self.inbox.refusing = refusing

    def hang_up_after_each_message(self) -> None:
        self.inbox.hanging_up = True

    async def wait_for(self, count: int, within: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + within
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} emails arrived, not {count}")
            await asyncio.sleep(0.05)
        return self.messages


@asynccontextmanager
async def mail_server() -> AsyncIterator[MailServer]:
    """aiosmtpd on a free loopback port (it runs in its own thread)."""
    (port,) = free_ports(1)
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailServer(host="127.0.0.1", port=port, inbox=inbox)
    finally:
        controller.stop()

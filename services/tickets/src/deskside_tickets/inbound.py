"""Inbound email and monitoring alerts: stored at once, turned into tickets in the background.

Receiving only checks the signature, the body's shape and whether it was seen
before (same `webhook-id` from the same integration, or the same `Message-ID`),
then stores the raw body and answers 202. `InboundProcessor` does the work, one
message per transaction together with all its effects: a crash before the
commit leaves the message pending, so it is processed later, exactly once.
A message that fails keeps its error and is retried with backoff, never dropped.

Email:
- The ticket a mail is about comes from its thread ids first (`<ticket.{id}@…>`
  in `In-Reply-To`/`References`, as notify sends them, or the Message-ID of an
  earlier inbound mail), then from `[SD-000042]` in the subject.
- Its requester, a watcher or an agent (matched by address) adds a public
  comment, quoted text stripped. The requester's reply reopens a resolved
  ticket, or a closed one within the reopen window; past it, or for anyone
  else replying to a closed ticket, a new ticket follows up and links the old.
- Anyone else, or a mail about no ticket, opens a new ticket (channel email).
  Its requester id is the agent's id if an agent has the address, else the
  requester id of the latest ticket from that address, else the address
  lowercased: replies by mail then keep landing on the same person.
- Auto-replies (`Auto-Submitted` other than `no`, `Precedence` bulk, junk or
  auto_reply) are stored and marked ignored: answering them would loop.

Alerts: one ticket per alert fingerprint while that ticket is open. Repeats
add an internal note and count the notifications. A "resolved" notification
adds a note but leaves the ticket open: monitoring going quiet is not proof of
a fix, so an agent confirms it. Once the ticket is resolved or closed, the
next firing opens a new ticket.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_contracts.common import Role
from deskside_contracts.tickets import (
    AlertmanagerWebhook,
    AlertStatus,
    Channel,
    CommentCreate,
    InboundAccepted,
    InboundEmail,
    InboundRead,
    InboundStatus,
    Level,
    LinkCreate,
    ReopenRequest,
    SimpleAlert,
    TicketCreate,
    TicketStatus,
)
from deskside_kit.auth import Principal
from deskside_kit.database import Sessions, utc_now
from deskside_kit.problems import (
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
)
from deskside_kit.webhooks import VerifiedWebhook
from deskside_tickets.config import TicketsSettings
from deskside_tickets.errors import InvalidTransition
from deskside_tickets.models import AlertTicket, InboundMessage, Ticket
from deskside_tickets.repository import TicketRepository
from deskside_tickets.service import SYSTEM_ACTOR, TicketService

logger = logging.getLogger("deskside.tickets.inbound")

EMAIL = "email"
ALERT = "alert"
RFC822 = "message/rfc822"
JSON = "application/json"

# Internal notes on alert tickets are the desk's own bookkeeping, not a person's.
DESK = Principal(sub=SYSTEM_ACTOR, name="Deskside", roles=frozenset({Role.AGENT}))

_THREAD_ID = re.compile(r"^ticket\.([^@\s]+)@", re.IGNORECASE)
_MESSAGE_IDS = re.compile(r"<([^<>\s]+)>")
_ATTRIBUTION = re.compile(r"^on\b.*\bwrote:$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"^-{2,}\s*original message\s*-{2,}$", re.IGNORECASE)
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
_MAX_BACKOFF = timedelta(hours=1)


class InboundNotFound(NotFound):
    slug = "inbound-not-found"
    title = "Inbound message not found"

    def __init__(self, inbound_id: str) -> None:
        super().__init__(f"No inbound message {inbound_id!r}.")


# --- reading what came in -----------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    sender: str  # lowercased
    sender_name: str | None
    subject: str
    text: str
    message_id: str | None
    thread_ids: list[str]  # In-Reply-To, then References, without angle brackets
    automatic: bool


@dataclass(frozen=True)
class AlertNotice:
    fingerprint: str
    status: AlertStatus
    title: str
    description: str
    impact: Level
    urgency: Level
    ends_at: str | None = None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def read_mail(content_type: str, body: bytes) -> Mail:
    """The parts of a mail the desk uses; Unprocessable if it has no usable sender."""
    if media_type(content_type) == RFC822:
        return _read_raw_mail(body)
    if media_type(content_type) == JSON:
        try:
            form = InboundEmail.model_validate_json(body)
        except ValidationError as error:
            raise Unprocessable(f"Not an inbound email: {_first_error(error)}") from None
        thread_ids = [_bare_id(form.in_reply_to)] if form.in_reply_to else []
        return Mail(
            sender=form.from_.lower(),
            sender_name=form.from_name,
            subject=form.subject,
            text=form.text or html_to_text(form.html or ""),
            message_id=_bare_id(form.message_id),
            thread_ids=thread_ids + [_bare_id(ref) for ref in form.references],
            automatic=is_automatic(form.auto_submitted, form.precedence),
        )
    raise UnsupportedMediaType(f"Send the mail as {RFC822} or as {JSON}.")


def _read_raw_mail(body: bytes) -> Mail:
    message = BytesParser(policy=policy.default).parsebytes(body)
    assert isinstance(message, EmailMessage)
    try:
        addresses: Sequence[Address] = message["From"].addresses if message["From"] else ()
    except (AttributeError, ValueError, IndexError):
        addresses = ()
    sender = addresses[0] if addresses else None
    if sender is None or "@" not in sender.addr_spec:
        raise Unprocessable("The mail has no From address.")
    ids: list[str] = []
    for header in ("In-Reply-To", "References"):
        ids += _MESSAGE_IDS.findall(str(message.get(header, "")))
    return Mail(
        sender=sender.addr_spec.lower(),
        sender_name=sender.display_name or None,
        subject=str(message.get("Subject", "")).strip(),
        text=_mail_text(message),
        message_id=_bare_id(str(message["Message-ID"])) if message["Message-ID"] else None,
        thread_ids=ids,
        automatic=is_automatic(message.get("Auto-Submitted"), message.get("Precedence")),
    )


def _mail_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        return ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def is_automatic(auto_submitted: Any, precedence: Any) -> bool:
    """Sent by a machine (an out-of-office, a list, our own notifications): never answered."""
    submitted = str(auto_submitted or "").split(";", 1)[0].strip().lower()
    return (submitted not in ("", "no")) or (
        str(precedence or "").strip().lower() in _AUTOMATIC_PRECEDENCE
    )


def strip_quoted(text: str) -> str:
    """The new part of a reply.

    Everything from an attribution line ("On Mon, … Alice wrote:") or an
    "-----Original Message-----" separator down is the old mail again, and so
    is any line starting with ">". Simple on purpose: mail clients quote in
    many ways, and keeping a little too much beats losing what someone wrote.
    """
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _ATTRIBUTION.match(stripped) or _ORIGINAL_MESSAGE.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Good enough for a ticket description; the desk never renders a sender's HTML."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


def read_alerts(body: bytes) -> list[AlertNotice]:
    """An Alertmanager v4 webhook or a simple alert, as notices; Unprocessable otherwise."""
    try:
        document = json.loads(body)
    except ValueError:
        raise Unprocessable("The alert is not JSON.") from None
    try:
        if isinstance(document, dict) and "alerts" in document:
            webhook = AlertmanagerWebhook.model_validate(document)
            return [_alertmanager_notice(alert, webhook) for alert in webhook.alerts]
        simple = SimpleAlert.model_validate(document)
    except ValidationError as error:
        raise Unprocessable(f"Not an alert: {_first_error(error)}") from None
    impact, urgency = levels_for(simple.severity, {})
    return [
        AlertNotice(
            fingerprint=simple.fingerprint,
            status=simple.status,
            title=simple.title,
            description=simple.description or "",
            impact=impact,
            urgency=urgency,
        )
    ]


def _alertmanager_notice(alert: Any, webhook: AlertmanagerWebhook) -> AlertNotice:
    labels = {**webhook.common_labels, **alert.labels}
    annotations = alert.annotations
    title = annotations.get("summary") or annotations.get("title") or labels.get("alertname")
    title = title or f"Alert {alert.fingerprint}"
    instance = labels.get("instance")
    if instance and instance not in title:
        title = f"{title} on {instance}"
    lines = [annotations.get("description") or annotations.get("message") or ""]
    lines += ["", "Labels:"] + [f"  {name}={value}" for name, value in sorted(labels.items())]
    if alert.starts_at:
        lines.append(f"Started: {alert.starts_at}")
    if alert.generator_url:
        lines.append(f"Source: {alert.generator_url}")
    impact, urgency = levels_for(labels.get("severity"), labels)
    return AlertNotice(
        fingerprint=alert.fingerprint,
        status=alert.status,
        title=title,
        description="\n".join(lines).strip(),
        impact=impact,
        urgency=urgency,
        ends_at=alert.ends_at,
    )


# Monitoring severities as the desk's impact and urgency: a page is urgent, and
# something that pages usually affects many people.
_SEVERITY_LEVELS: dict[str, tuple[Level, Level]] = {
    "critical": (Level.HIGH, Level.CRITICAL),
    "page": (Level.HIGH, Level.CRITICAL),
    "emergency": (Level.HIGH, Level.CRITICAL),
    "error": (Level.MEDIUM, Level.HIGH),
    "high": (Level.MEDIUM, Level.HIGH),
    "major": (Level.MEDIUM, Level.HIGH),
    "warning": (Level.MEDIUM, Level.MEDIUM),
    "medium": (Level.MEDIUM, Level.MEDIUM),
    "info": (Level.LOW, Level.LOW),
    "low": (Level.LOW, Level.LOW),
    "none": (Level.LOW, Level.LOW),
}


def levels_for(severity: str | None, labels: dict[str, str]) -> tuple[Level, Level]:
    """(impact, urgency) from a severity; `impact`/`urgency` labels, when valid, win."""
    impact, urgency = _SEVERITY_LEVELS.get((severity or "").lower(), (Level.MEDIUM, Level.MEDIUM))
    known = {level.value for level in Level}
    if labels.get("impact", "").lower() in known:
        impact = Level(labels["impact"].lower())
    if labels.get("urgency", "").lower() in known:
        urgency = Level(labels["urgency"].lower())
    return impact, urgency


def _bare_id(value: str | None) -> str:
    return (value or "").strip().strip("<>").strip()


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _title(text: str, fallback: str) -> str:
    return (" ".join(text.split()) or fallback)[:200]


# --- receiving -----------------------------------------------------------------------


class InboundService:
    """Stores signed inbound requests; the processor turns them into tickets."""

    def __init__(self, repository: TicketRepository) -> None:
        self.repository = repository

    async def receive(
        self, webhook: VerifiedWebhook, kind: str, content_type: str, body: bytes
    ) -> InboundAccepted:
        message_id: str | None = None
        if kind == EMAIL:
            message_id = read_mail(content_type, body).message_id or None
        else:
            read_alerts(body)  # refused now, while the sender can still fix it
        seen = await self.repository.inbound_seen(
            webhook.integration, webhook.webhook_id, message_id
        )
        if seen is not None:
            return _accepted(seen, duplicate=True)
        message = InboundMessage(
            kind=kind,
            integration=webhook.integration,
            webhook_id=webhook.webhook_id,
            content_type=media_type(content_type),
            body=body,
            message_id=message_id,
        )
        try:
            async with self.repository.session.begin_nested():
                await self.repository.add(message)
        except IntegrityError:
            # The same delivery raced in on another connection and won.
            seen = await self.repository.inbound_seen(
                webhook.integration, webhook.webhook_id, message_id
            )
            if seen is None:
                raise
            return _accepted(seen, duplicate=True)
        return _accepted(message, duplicate=False)

    async def get(self, inbound_id: str) -> InboundRead:
        message = await self.repository.inbound(inbound_id)
        if message is None:
            raise InboundNotFound(inbound_id)
        return InboundRead.model_validate(message)


def _accepted(message: InboundMessage, *, duplicate: bool) -> InboundAccepted:
    return InboundAccepted(id=message.id, status=InboundStatus(message.status), duplicate=duplicate)


# --- processing -----------------------------------------------------------------------


@dataclass
class _Result:
    outcome: list[dict[str, Any]] = field(default_factory=list)
    ticket_id: str | None = None

    def add(self, action: str, ticket: Any = None, reason: str | None = None) -> None:
        entry: dict[str, Any] = {"action": action}
        if ticket is not None:
            entry |= {"ticket_id": ticket.id, "reference": ticket.reference}
            self.ticket_id = self.ticket_id or ticket.id
        if reason is not None:
            entry["reason"] = reason
        self.outcome.append(entry)


class InboundProcessor:
    """Works through pending inbound messages; safe to run on every replica at once."""

    def __init__(self, sessions: Sessions, settings: TicketsSettings) -> None:
        self.sessions = sessions
        self.settings = settings

    async def run_once(self, limit: int = 50) -> int:
        """Process up to `limit` due messages, one transaction each; returns how many."""
        handled = 0
        while handled < limit:
            async with self.sessions.write_transaction() as session:
                repository = TicketRepository(session)
                message = await repository.claim_inbound(utc_now())
                if message is None:
                    return handled
                await self._process(session, repository, message)
            handled += 1
        return handled

    async def run_soon(self) -> None:
        """`run_once` right after a request stored a message; the periodic run covers failures."""
        try:
            await self.run_once()
        except Exception:
            logger.exception("processing inbound messages failed; the next round retries")

    async def _process(
        self, session: AsyncSession, repository: TicketRepository, message: InboundMessage
    ) -> None:
        now = utc_now()
        try:
            # The effects in a savepoint: when they fail, the failure itself still commits.
            async with session.begin_nested():
                tickets = TicketService(repository, self.settings, None)
                if message.kind == EMAIL:
                    result = await self._email(repository, tickets, message)
                else:
                    result = await self._alerts(repository, tickets, message)
        except Exception as error:
            await session.refresh(message)
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:4000]
            message.next_attempt_at = now + backoff_for(message.attempts)
            logger.warning(
                "inbound message %s failed (attempt %d): %s",
                message.id,
                message.attempts,
                message.last_error,
            )
            return
        message.attempts += 1
        message.status = InboundStatus.PROCESSED.value
        message.outcome = result.outcome
        message.ticket_id = result.ticket_id
        message.last_error = None
        message.processed_at = now
        await repository.add(message)

    # --- email ---

    async def _email(
        self, repository: TicketRepository, tickets: TicketService, message: InboundMessage
    ) -> _Result:
        mail = read_mail(message.content_type, message.body)
        result = _Result()
        if mail.automatic:
            result.add("ignored", reason="an automatic reply")
            return result
        ticket = await self._thread_ticket(repository, mail)
        if ticket is None:
            result.add("created", await self._open_from_mail(repository, tickets, mail))
            return result
        author = await self._participant(repository, ticket, mail)
        if author is None:
            result.add("created", await self._open_from_mail(repository, tickets, mail))
            return result
        if ticket.status in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value) and (
            author.sub == ticket.requester_id
        ):
            try:
                async with repository.session.begin_nested():
                    reason = "The requester replied by email."
                    await tickets.reopen(author, ticket.id, ReopenRequest(reason=reason), None)
                result.add("reopened", ticket)
            except InvalidTransition:
                pass  # closed too long ago: a new ticket follows up below
        if ticket.status == TicketStatus.CLOSED.value:
            follow_up = await self._open_from_mail(repository, tickets, mail, follows=ticket)
            result.add("created", follow_up)
            return result
        body = strip_quoted(mail.text) or "(The reply had no new text.)"
        await tickets.add_comment(author, ticket.id, CommentCreate(body=body[:50_000]))
        result.add("commented", ticket)
        return result

    async def _thread_ticket(self, repository: TicketRepository, mail: Mail) -> Ticket | None:
        """The ticket a mail answers: thread ids first, then the subject's reference."""
        ticket: Ticket | None = None
        for thread_id in mail.thread_ids:
            match = _THREAD_ID.match(thread_id)
            if match:
                ticket = await repository.find(match.group(1), for_update=True)
                if ticket is not None:
                    break
        if ticket is None:
            earlier = await repository.ticket_of_mail(mail.thread_ids)
            if earlier is not None:
                ticket = await repository.find(earlier, for_update=True)
        if ticket is None:
            prefix = re.escape(self.settings.reference_prefix)
            match = re.search(rf"\[({prefix}-\d+)\]", mail.subject, re.IGNORECASE)
            if match:
                ticket = await repository.find(match.group(1).upper(), for_update=True)
        # A merged ticket's conversation goes on where it was merged.
        if ticket is not None and ticket.merged_into_id is not None:
            ticket = await repository.find(ticket.merged_into_id, for_update=True) or ticket
        return ticket

    async def _participant(
        self, repository: TicketRepository, ticket: Ticket, mail: Mail
    ) -> Principal | None:
        """The sender as the requester, a watcher or an agent of the desk; None for others."""
        if (ticket.requester_email or "").lower() == mail.sender:
            return Principal(
                sub=ticket.requester_id,
                email=mail.sender,
                name=ticket.requester_name or mail.sender_name,
                roles=frozenset({Role.REQUESTER}),
            )
        for watcher in await repository.watchers(ticket.id):
            if (watcher.email or "").lower() == mail.sender:
                return Principal(
                    sub=watcher.person_id,
                    email=mail.sender,
                    name=watcher.name or mail.sender_name,
                    roles=frozenset({Role.REQUESTER}),
                )
        agent = await repository.agent_by_email(mail.sender)
        if agent is not None and agent.active:
            return Principal(
                sub=agent.id, email=mail.sender, name=agent.name, roles=frozenset({Role.AGENT})
            )
        return None

    async def _open_from_mail(
        self,
        repository: TicketRepository,
        tickets: TicketService,
        mail: Mail,
        follows: Ticket | None = None,
    ) -> Ticket:
        agent = await repository.agent_by_email(mail.sender)
        person_id = (
            agent.id if agent is not None else await repository.requester_id_for_email(mail.sender)
        )
        # The sender opens the ticket themself, as if on the portal: it is theirs to follow.
        requester = Principal(
            sub=person_id or mail.sender,
            email=mail.sender,
            name=mail.sender_name,
            roles=frozenset({Role.REQUESTER}),
        )
        description = mail.text.strip()
        if follows is not None:
            description = f"Follows up {follows.reference}, which is closed.\n\n{description}"
        created = await tickets.create_ticket(
            requester,
            TicketCreate(
                title=_title(mail.subject, "(no subject)"),
                description=description[:20_000],
                channel=Channel.EMAIL,
            ),
        )
        if follows is not None:
            await tickets.link(DESK, created.id, LinkCreate(ticket=follows.id))
        ticket = await repository.find(created.id)
        assert ticket is not None
        return ticket

    # --- alerts ---

    async def _alerts(
        self, repository: TicketRepository, tickets: TicketService, message: InboundMessage
    ) -> _Result:
        result = _Result()
        monitoring = Principal(
            sub=message.integration,
            name=f"{message.integration} (monitoring)",
            roles=frozenset({Role.INTEGRATION}),
        )
        for notice in read_alerts(message.body):
            found = await repository.open_alert_ticket(message.integration, notice.fingerprint)
            if found is not None:
                alert, ticket = found
                alert.last_status = notice.status.value
                alert.last_seen_at = utc_now()
                if notice.status is AlertStatus.FIRING:
                    alert.notifications += 1
                    note = f"The alert fired again ({alert.notifications} notifications so far)."
                else:
                    ended = f" at {notice.ends_at}" if notice.ends_at else ""
                    note = (
                        f"Monitoring reports the alert resolved{ended}. The ticket stays open "
                        "until someone confirms the fix."
                    )
                await repository.add(alert)
                await tickets.add_comment(DESK, ticket.id, CommentCreate(body=note, internal=True))
                result.add("noted", ticket)
            elif notice.status is AlertStatus.FIRING:
                created = await tickets.create_ticket(
                    monitoring,
                    TicketCreate(
                        title=_title(notice.title, f"Alert {notice.fingerprint}"),
                        description=notice.description[:20_000],
                        channel=Channel.ALERT,
                        impact=notice.impact,
                        urgency=notice.urgency,
                    ),
                )
                # The ticket first: a flush that took it with the link might put the
                # link first, as nothing tells the ORM that one refers to the other.
                await repository.insert_new()
                await repository.add(
                    AlertTicket(
                        ticket_id=created.id,
                        integration=message.integration,
                        fingerprint=notice.fingerprint,
                    )
                )
                result.add("created", created)
            else:
                result.add("ignored", reason=f"{notice.fingerprint} resolved, no open ticket")
        return result


def backoff_for(attempts: int) -> timedelta:
    """How long a message that failed `attempts` times waits before the next try."""
    return min(timedelta(seconds=15 * 2 ** min(max(attempts - 1, 0), 12)), _MAX_BACKOFF)

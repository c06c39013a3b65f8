"""Email templates: a subject, a text body and an HTML body per event type, in Jinja2.

Admins edit them through the API, so they render in Jinja2's sandbox: a
template reads the event's data and nothing of Python (no attributes that
start with `_`, no unsafe calls). Undefined names are errors, caught when
the template is saved by rendering it against a sample event.

What a template can use (keep these stable, admins write against them):

- `event`: the envelope (`id`, `type`, `timestamp`, `source`, `subject`, `data`);
- `data`: the event's data, as the producing service wrote it;
- `ticket`: `data.ticket` for ticket events (reference, title, status,
  requester, technology with its guide, sla with due dates …), else none;
- `recipient`: `name` and `email` of the person the mail goes to;
- `public_url`, and `ticket_url`: the ticket's address through the gateway;
- filters `when` (a timestamp, readably) and `minutes` (a number of minutes
  as hours and minutes), and `label` (`best_effort` → `best effort`).

Subjects carry no `[SD-000042]` tag: the mail builder adds it to every
ticket's mail, so an edited template cannot break threading.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import ChoiceLoader, DictLoader, StrictUndefined, Template
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from deskside_contracts.events import Event
from deskside_contracts.samples import SAMPLE_EVENTS
from deskside_notify.rules import Recipient


class TemplateError(Exception):
    """A template that cannot render: bad syntax, an unknown name, or a sandbox refusal."""


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_PACKAGE = resources.files("deskside_notify") / "templates"
# The HTML layout every default body extends; an admin's HTML may extend it too.
_LAYOUT = "layout.html"


def _load(name: str) -> str:
    return (_PACKAGE / name).read_text(encoding="utf-8")


def _when(value: Any) -> str:
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _minutes(value: Any) -> str:
    total = abs(int(value or 0))
    hours, minutes = divmod(total, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _label(value: Any) -> str:
    return str(value or "").replace("_", " ")


def _environment(*, html: bool) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        loader=ChoiceLoader([DictLoader({_LAYOUT: _load(_LAYOUT)})]) if html else None,
    )
    environment.filters.update(when=_when, minutes=_minutes, label=_label)
    return environment


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


def render(
    template: EmailTemplate, event: Event, recipient: Recipient, *, public_url: str
) -> RenderedEmail:
    ticket = event.data.get("ticket")
    context: dict[str, Any] = {
        "event": event.model_dump(mode="json"),
        "data": event.data,
        "ticket": ticket,
        "recipient": {"name": recipient.name, "email": recipient.email},
        "public_url": public_url.rstrip("/"),
        "ticket_url": (
            f"{public_url.rstrip('/')}/v1/tickets/{ticket['reference']}"
            if isinstance(ticket, Mapping) and ticket.get("reference")
            else None
        ),
    }
    subject = _render_part("subject", _TEXT, template.subject, context)
    text = _render_part("text", _TEXT, template.text, context)
    html = _render_part("html", _HTML, template.html, context)
    # A subject is one line whatever the template did: no header can be split in two.
    subject = " ".join(subject.split())
    if not subject:
        raise TemplateError("subject: it renders empty.")
    return RenderedEmail(subject=subject, text=text, html=html)


def _render_part(
    part: str, environment: SandboxedEnvironment, source: str, context: dict[str, Any]
) -> str:
    try:
        return _compiled(environment, source).render(context)
    except JinjaError as exc:
        raise TemplateError(f"{part}: {exc}") from None


@functools.lru_cache(maxsize=256)
def _compiled(environment: SandboxedEnvironment, source: str) -> Template:
    # Compiling is most of a render's cost (about two thirds of notify's CPU
    # under a storm of ticket events); a template's source rarely changes.
    return environment.from_string(source)


def check_template(template: EmailTemplate, event_type: str) -> None:
    """Raise TemplateError unless `template` renders against the sample of `event_type`."""
    render(
        template,
        SAMPLE_EVENTS[event_type],
        Recipient(email="alice@example.com", name="Alice Ames", person_id="alice"),
        public_url="https://desk.example.com",
    )


def _default(event_type: str) -> EmailTemplate:
    return EmailTemplate(
        subject=_load(f"{event_type}.subject.txt").strip(),
        text=_load(f"{event_type}.txt"),
        html=_load(f"{event_type}.html"),
    )


_MAILED = (
    "ticket.created",
    "ticket.commented",
    "ticket.assigned",
    "ticket.escalated",
    "ticket.resolved",
    "ticket.sla_warning",
    "ticket.sla_breached",
    "account.approved",
    "account.rejected",
    "device.compliance_changed",
    "technology.tier_changed",
    "webhook.disabled",
)
DEFAULT_TEMPLATES: Mapping[str, EmailTemplate] = {name: _default(name) for name in _MAILED}

"""The default templates read well, and an admin's template cannot reach Python."""

from __future__ import annotations

import pytest

from deskside_contracts.samples import SAMPLE_EVENTS
from deskside_contracts.tickets import TechnologySnapshot
from deskside_notify.rules import Recipient
from deskside_notify.templates import (
    DEFAULT_TEMPLATES,
    EmailTemplate,
    TemplateError,
    check_template,
    render,
)
from tests.notify.factories import ticket, ticket_event

ALICE = Recipient(email="alice@example.com", name="Alice Ames", person_id="alice")
URL = "https://desk.example.com"


@pytest.mark.parametrize("event_type", sorted(DEFAULT_TEMPLATES))
def test_every_default_renders_its_sample(event_type: str) -> None:
    rendered = render(
        DEFAULT_TEMPLATES[event_type], SAMPLE_EVENTS[event_type], ALICE, public_url=URL
    )
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert "[SD-" not in rendered.subject  # the mail builder adds the tag, once
    assert len(rendered.text) > 80
    assert rendered.html.lstrip().startswith("<!doctype html>")


def test_the_acknowledgement_gives_reference_first_response_time_and_guide() -> None:
    sample = SAMPLE_EVENTS["ticket.created"]
    rendered = render(DEFAULT_TEMPLATES["ticket.created"], sample, ALICE, public_url=URL)
    assert "SD-000042" in rendered.text
    assert "You will hear from us by Mon 23 Nov 2026, 13:30 UTC." in rendered.text
    assert "Sign out of Dropbox and back in" in rendered.text
    assert f"{URL}/v1/tickets/SD-000042" in rendered.text
    assert "Hello Alice Ames," in rendered.text


def test_the_acknowledgement_of_a_ticket_without_sla_or_technology_still_reads() -> None:
    rendered = render(DEFAULT_TEMPLATES["ticket.created"], ticket_event(), ALICE, public_url=URL)
    assert "SD-000042" in rendered.text
    assert "You will hear from us" not in rendered.text
    assert "our advice" not in rendered.text


def test_the_resolution_mail_says_how_to_rate_and_how_to_reopen() -> None:
    sample = SAMPLE_EVENTS["ticket.resolved"]
    text = render(DEFAULT_TEMPLATES["ticket.resolved"], sample, ALICE, public_url=URL).text
    assert "Re-linked the account" in text
    assert "Rate the help" in text
    assert "Reply to this email and the request opens again" in text


def test_a_rejection_gives_the_reason_and_the_alternative() -> None:
    sample = SAMPLE_EVENTS["account.rejected"]
    text = render(DEFAULT_TEMPLATES["account.rejected"], sample, ALICE, public_url=URL).text
    assert "Evernote is prohibited for work." in text
    assert "Use onenote instead" in text


def test_html_bodies_escape_what_people_typed_and_text_bodies_keep_it() -> None:
    read = ticket().model_copy(
        update={
            "title": "<script>alert(1)</script>",
            "technology": TechnologySnapshot(key="ipad", guide="Hold <Home> & Power"),
        }
    )
    rendered = render(
        DEFAULT_TEMPLATES["ticket.created"], ticket_event(read=read), ALICE, public_url=URL
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "Hold &lt;Home&gt; &amp; Power" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ event.__class__ }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ data.items.__self__.__class__ }}",
    ],
)
def test_the_sandbox_keeps_templates_away_from_python(source: str) -> None:
    template = EmailTemplate(subject="Hi", text=source, html="<p>ok</p>")
    with pytest.raises(TemplateError):
        check_template(template, "ticket.created")


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("text", "{{ no_such_name }}"),
        ("text", "{{ ticket.no_such_field }}"),
        ("html", "{% if %}"),
        ("subject", "{{ ticket.title"),
        ("subject", "   "),
    ],
)
def test_broken_templates_are_refused(field: str, source: str) -> None:
    fields = {"subject": "Hi", "text": "Hello", "html": "<p>Hello</p>", field: source}
    with pytest.raises(TemplateError):
        check_template(EmailTemplate(**fields), "ticket.created")


def test_a_subject_is_one_line_whatever_the_template_writes() -> None:
    template = EmailTemplate(
        subject="{{ ticket.title }}\r\nBcc: everyone@example.com", text="x", html="<p>x</p>"
    )
    rendered = render(template, SAMPLE_EVENTS["ticket.created"], ALICE, public_url=URL)
    assert rendered.subject == "Dropbox stopped syncing on my iPad Bcc: everyone@example.com"


def test_compliance_mail_explains_each_reason() -> None:
    sample = SAMPLE_EVENTS["device.compliance_changed"]
    text = render(DEFAULT_TEMPLATES["device.compliance_changed"], sample, ALICE, public_url=URL)
    assert "Update its operating system (it runs 16.1)" in text.text
    assert "Set a passcode" in text.text
    assert "encryption" not in text.text

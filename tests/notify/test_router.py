"""The notify API on SQLite and PostgreSQL: intake, webhooks, templates, preferences, the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from deskside_contracts.tickets import TicketStatus
from tests.notify.conftest import ADMIN, INTEGRATION, PROBLEM, SERVICE, SettingsFor
from tests.notify.factories import batch, ticket, ticket_event
from tests.support.apps import serving
from tests.support.tokens import bearer

ALICE = bearer("alice", "requester", email="alice@example.com")


async def create_webhook(
    client: httpx.AsyncClient,
    *,
    url: str = "https://hooks.example.com/deskside",
    event_types: list[str] | None = None,
    headers: dict[str, str] = ADMIN,
) -> dict[str, object]:
    response = await client.post(
        "/v1/webhooks",
        json={"url": url, "event_types": event_types or ["ticket.*"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


class TestReceiveEvents:
    async def test_a_service_posts_events_and_a_retry_is_a_duplicate(
        self, client: httpx.AsyncClient
    ) -> None:
        event = ticket_event()

        first = await client.post("/internal/events", json=batch(event), headers=SERVICE)
        again = await client.post("/internal/events", json=batch(event), headers=SERVICE)

        assert first.status_code == 200
        assert first.json() == {"accepted": 1, "duplicates": 0}
        assert again.json() == {"accepted": 0, "duplicates": 1}
        log = await client.get("/v1/notifications?ticket=SD-000042", headers=ADMIN)
        assert [n["recipient_email"] for n in log.json()["items"]] == ["alice@example.com"]

    async def test_a_batch_repeating_an_event_plans_each_new_event_once(
        self, client: httpx.AsyncClient
    ) -> None:
        earlier = ticket_event(read=ticket(reference="SD-000001"))
        repeated = ticket_event(read=ticket(reference="SD-000002"))
        await client.post("/internal/events", json=batch(earlier), headers=SERVICE)

        response = await client.post(
            "/internal/events", json=batch(earlier, repeated, repeated), headers=SERVICE
        )

        assert response.json() == {"accepted": 1, "duplicates": 2}
        log = await client.get("/v1/notifications", headers=ADMIN)
        assert sorted(n["ticket_reference"] for n in log.json()["items"]) == [
            "SD-000001",
            "SD-000002",
        ]

    async def test_people_and_integrations_cannot_post_events(
        self, client: httpx.AsyncClient
    ) -> None:
        body = batch(ticket_event())

        anonymous = await client.post("/internal/events", json=body)
        admin = await client.post("/internal/events", json=body, headers=ADMIN)
        forged = await client.post(
            "/internal/events", json=body, headers={"X-Deskside-Service-Token": "guess"}
        )

        assert anonymous.status_code == 401
        assert admin.status_code == 403
        assert admin.headers["content-type"] == PROBLEM
        assert forged.status_code == 401
        log = await client.get("/v1/notifications", headers=ADMIN)
        assert log.json()["items"] == []

    async def test_a_malformed_batch_is_refused_whole(self, client: httpx.AsyncClient) -> None:
        good = ticket_event().model_dump(mode="json")
        bad = {**good, "id": None}

        response = await client.post(
            "/internal/events", json={"events": [good, bad]}, headers=SERVICE
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert "events.1.id" in response.text
        log = await client.get("/v1/notifications", headers=ADMIN)
        assert log.json()["items"] == []

    async def test_events_fan_out_to_matching_subscriptions_only(
        self, client: httpx.AsyncClient
    ) -> None:
        tickets_hook = await create_webhook(client, event_types=["ticket.*"])
        accounts_hook = await create_webhook(client, event_types=["account.approved"])
        everything = await create_webhook(client, event_types=["*"])
        await client.patch(
            f"/v1/webhooks/{everything['id']}", json={"enabled": False}, headers=ADMIN
        )
        event = ticket_event()

        await client.post("/internal/events", json=batch(event), headers=SERVICE)

        async def deliveries(hook: dict[str, object]) -> list[tuple[str, str]]:
            page = await client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=ADMIN)
            return [(d["event_id"], d["status"]) for d in page.json()["items"]]

        assert await deliveries(tickets_hook) == [(event.id, "pending")]
        assert await deliveries(accounts_hook) == []
        # A disabled endpoint keeps a record, so `recover` can send it once re-enabled.
        assert await deliveries(everything) == [(event.id, "skipped")]


class TestWebhooks:
    async def test_the_secret_is_shown_once(self, client: httpx.AsyncClient) -> None:
        created = await create_webhook(client)

        fetched = await client.get(f"/v1/webhooks/{created['id']}", headers=ADMIN)
        listed = await client.get("/v1/webhooks", headers=ADMIN)

        assert str(created["secret"]).startswith("whsec_")
        assert fetched.status_code == 200
        assert "secret" not in fetched.json()
        assert fetched.headers["etag"] == '"1"'
        assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
        assert "whsec_" not in listed.text
        assert "whsec_" not in fetched.text

    async def test_an_integration_sees_only_its_own_subscriptions(
        self, client: httpx.AsyncClient
    ) -> None:
        mine = await create_webhook(client, headers=INTEGRATION)
        theirs = await create_webhook(client, headers=bearer("other-crm", "integration"))

        listed = await client.get("/v1/webhooks", headers=INTEGRATION)
        peek = await client.get(f"/v1/webhooks/{theirs['id']}", headers=INTEGRATION)
        admin_view = await client.get("/v1/webhooks", headers=ADMIN)

        assert [item["id"] for item in listed.json()["items"]] == [mine["id"]]
        assert peek.status_code == 404
        assert len(admin_view.json()["items"]) == 2

    @pytest.mark.parametrize("role", ["requester", "agent"])
    async def test_people_cannot_manage_webhooks(
        self, client: httpx.AsyncClient, role: str
    ) -> None:
        response = await client.get("/v1/webhooks", headers=bearer("someone", role))

        assert response.status_code == 403
        assert "admin, integration" in response.json()["detail"]

    async def test_unknown_event_types_are_named(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/webhooks",
            json={"url": "https://hooks.example.com/x", "event_types": ["ticket.exploded"]},
            headers=ADMIN,
        )

        assert response.status_code == 422
        assert "'ticket.exploded'" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://hooks.example.com/x", "https"),
            ("https://10.0.0.5/x", "10.0.0.5"),
            ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("https://2130706433/x", "four decimal numbers"),
            ("https://[::ffff:127.0.0.1]/x", "127.0.0.1"),
        ],
    )
    async def test_production_like_settings_refuse_unsafe_urls(
        self, settings_for: SettingsFor, url: str, reason: str
    ) -> None:
        settings = settings_for(webhook_allow_http=False, webhook_allow_private=False)
        from deskside_notify.app import create_app

        async with serving(create_app(settings)) as client:
            response = await client.post(
                "/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=ADMIN
            )
            listed = await client.get("/v1/webhooks", headers=ADMIN)

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert reason in response.json()["detail"]
        assert listed.json()["items"] == []

    async def test_a_change_needs_the_current_version(self, client: httpx.AsyncClient) -> None:
        hook = await create_webhook(client)

        stale = await client.patch(
            f"/v1/webhooks/{hook['id']}",
            json={"description": "CRM"},
            headers={**ADMIN, "If-Match": '"7"'},
        )
        fresh = await client.patch(
            f"/v1/webhooks/{hook['id']}",
            json={"description": "CRM", "event_types": ["ticket.created", "account.*"]},
            headers={**ADMIN, "If-Match": '"1"'},
        )

        assert stale.status_code == 412
        assert fresh.status_code == 200
        assert fresh.json()["description"] == "CRM"
        assert fresh.json()["event_types"] == ["ticket.created", "account.*"]
        assert fresh.headers["etag"] == '"2"'

    async def test_rotating_the_secret_keeps_the_old_one_for_a_day(
        self, client: httpx.AsyncClient
    ) -> None:
        hook = await create_webhook(client)

        response = await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=ADMIN)
        fetched = await client.get(f"/v1/webhooks/{hook['id']}", headers=ADMIN)

        assert response.status_code == 200
        new_secret = response.json()["secret"]
        assert new_secret.startswith("whsec_")
        assert new_secret != hook["secret"]
        overlap_ends = datetime.fromisoformat(response.json()["previous_secret_expires_at"])
        assert timedelta(hours=23) < overlap_ends - datetime.now(UTC) <= timedelta(hours=24)
        assert fetched.json()["previous_secret_expires_at"] is not None

    async def test_a_test_event_is_queued_for_that_endpoint(
        self, client: httpx.AsyncClient
    ) -> None:
        hook = await create_webhook(client, event_types=["account.approved"])

        queued = await client.post(f"/v1/webhooks/{hook['id']}/test", headers=ADMIN)
        detail = await client.get(f"/v1/deliveries/{queued.json()['id']}", headers=ADMIN)

        assert queued.status_code == 202
        assert queued.json()["status"] == "pending"
        assert detail.json()["payload"]["type"] == "webhook.test"
        assert detail.json()["attempt_log"] == []

    async def test_recover_needs_an_enabled_endpoint_and_requeues_what_it_missed(
        self, client: httpx.AsyncClient
    ) -> None:
        hook = await create_webhook(client)
        since = datetime.now(UTC) - timedelta(seconds=1)
        await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False}, headers=ADMIN)
        await client.post(
            "/internal/events", json=batch(ticket_event(), ticket_event()), headers=SERVICE
        )

        while_disabled = await client.post(
            f"/v1/webhooks/{hook['id']}/recover", json={"since": since.isoformat()}, headers=ADMIN
        )
        await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True}, headers=ADMIN)
        recovered = await client.post(
            f"/v1/webhooks/{hook['id']}/recover", json={"since": since.isoformat()}, headers=ADMIN
        )
        pending = await client.get(
            f"/v1/webhooks/{hook['id']}/deliveries?status=pending", headers=ADMIN
        )

        assert while_disabled.status_code == 409
        assert while_disabled.headers["content-type"] == PROBLEM
        assert recovered.status_code == 202
        assert recovered.json() == {"requeued": 2}
        assert len(pending.json()["items"]) == 2

    async def test_deleting_a_subscription_ends_it(self, client: httpx.AsyncClient) -> None:
        hook = await create_webhook(client)

        deleted = await client.delete(f"/v1/webhooks/{hook['id']}", headers=ADMIN)
        gone = await client.get(f"/v1/webhooks/{hook['id']}", headers=ADMIN)

        assert deleted.status_code == 204
        assert gone.status_code == 404
        assert gone.headers["content-type"] == PROBLEM


class TestTemplates:
    async def test_admins_read_the_defaults(self, client: httpx.AsyncClient) -> None:
        listed = await client.get("/v1/templates", headers=ADMIN)
        one = await client.get("/v1/templates/ticket.created", headers=ADMIN)
        refused = await client.get("/v1/templates", headers=ALICE)

        assert "ticket.created" in [t["event_type"] for t in listed.json()]
        assert one.json()["is_default"] is True
        assert one.headers["etag"] == '"0"'
        assert refused.status_code == 403

    async def test_a_template_that_does_not_render_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.put(
            "/v1/templates/ticket.created",
            json={"subject": "Hello {{ ticket.reference", "text": "x", "html": "<p>x</p>"},
            headers=ADMIN,
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert "subject" in response.json()["detail"]
        current = await client.get("/v1/templates/ticket.created", headers=ADMIN)
        assert current.json()["is_default"] is True

    async def test_a_template_cannot_reach_python(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/templates/ticket.created/preview",
            json={
                "draft": {
                    "subject": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
                    "text": "x",
                    "html": "x",
                }
            },
            headers=ADMIN,
        )

        assert response.status_code == 422
        assert "subclasses" not in response.json().get("subject", "")

    async def test_an_edited_template_is_used_and_can_be_reset(
        self, client: httpx.AsyncClient
    ) -> None:
        template = {
            "subject": "We have your request {{ ticket.reference }}",
            "text": "Thanks, {{ recipient.name or 'there' }}.",
            "html": "<p>Thanks.</p>",
        }
        preview = await client.post(
            "/v1/templates/ticket.created/preview", json={"draft": template}, headers=ADMIN
        )
        saved = await client.put("/v1/templates/ticket.created", json=template, headers=ADMIN)
        await client.post("/internal/events", json=batch(ticket_event()), headers=SERVICE)
        log = await client.get("/v1/notifications", headers=ADMIN)
        reset = await client.delete(
            "/v1/templates/ticket.created", headers={**ADMIN, "If-Match": '"1"'}
        )
        after = await client.get("/v1/templates/ticket.created", headers=ADMIN)

        assert preview.status_code == 200
        assert preview.json()["subject"].startswith("We have your request SD-")
        assert saved.status_code == 200
        assert saved.json()["version"] == 1
        assert "We have your request SD-000042" in log.json()["items"][0]["subject"]
        assert reset.status_code == 204
        assert after.json()["is_default"] is True

    async def test_an_event_type_without_email_has_no_template(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/templates/ticket.exploded", headers=ADMIN)

        assert response.status_code == 404
        assert "ticket.created" in response.json()["detail"]


class TestPreferences:
    async def test_a_person_mutes_an_event_type(self, client: httpx.AsyncClient) -> None:
        before = await client.get("/v1/preferences/me", headers=ALICE)
        muted = await client.put(
            "/v1/preferences/me", json={"muted_event_types": ["ticket.resolved"]}, headers=ALICE
        )
        resolved = ticket(status=TicketStatus.RESOLVED)
        await client.post(
            "/internal/events",
            json=batch(ticket_event("ticket.resolved", read=resolved)),
            headers=SERVICE,
        )
        log = await client.get("/v1/notifications", headers=ALICE)

        assert before.json()["muted_event_types"] == []
        assert "ticket.created" in before.json()["always_sent"]
        assert muted.status_code == 200
        assert muted.json()["muted_event_types"] == ["ticket.resolved"]
        assert [(n["event_type"], n["status"]) for n in log.json()["items"]] == [
            ("ticket.resolved", "suppressed")
        ]

    async def test_one_batch_applies_each_persons_own_mutes(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.put(
            "/v1/preferences/me", json={"muted_event_types": ["ticket.resolved"]}, headers=ALICE
        )
        alices = ticket(reference="SD-000001", status=TicketStatus.RESOLVED)
        bobs = ticket(
            reference="SD-000002",
            requester_id="bob",
            requester_email="bob@example.com",
            status=TicketStatus.RESOLVED,
        )
        await client.post(
            "/internal/events",
            json=batch(
                ticket_event("ticket.resolved", read=alices),
                ticket_event("ticket.resolved", read=bobs),
            ),
            headers=SERVICE,
        )
        log = await client.get("/v1/notifications", headers=ADMIN)

        assert sorted((n["ticket_reference"], n["status"]) for n in log.json()["items"]) == [
            ("SD-000001", "suppressed"),
            ("SD-000002", "pending"),
        ]

    async def test_the_acknowledgement_cannot_be_switched_off(
        self, client: httpx.AsyncClient
    ) -> None:
        refused = await client.put(
            "/v1/preferences/me", json={"muted_event_types": ["ticket.created"]}, headers=ALICE
        )
        unknown = await client.put(
            "/v1/preferences/me", json={"muted_event_types": ["ticket.nope"]}, headers=ALICE
        )

        assert refused.status_code == 422
        assert "cannot be switched off" in refused.json()["detail"]
        assert unknown.status_code == 422
        assert "'ticket.nope'" in unknown.json()["detail"]


class TestNotificationLog:
    async def test_a_person_sees_only_their_own_mail(self, client: httpx.AsyncClient) -> None:
        await client.post(
            "/internal/events",
            json=batch(
                ticket_event(read=ticket(reference="SD-000001")),
                ticket_event(read=ticket(reference="SD-000002", requester_email="bob@example.com")),
            ),
            headers=SERVICE,
        )

        alice = await client.get("/v1/notifications", headers=ALICE)
        desk = await client.get("/v1/notifications?status=pending", headers=ADMIN)
        by_recipient = await client.get(
            "/v1/notifications?recipient=BOB@example.com", headers=ADMIN
        )
        sent = await client.get("/v1/notifications?status=sent", headers=ADMIN)

        assert [n["ticket_reference"] for n in alice.json()["items"]] == ["SD-000001"]
        assert len(desk.json()["items"]) == 2
        assert [n["ticket_reference"] for n in by_recipient.json()["items"]] == ["SD-000002"]
        assert sent.json()["items"] == []
        one = alice.json()["items"][0]["id"]
        assert (await client.get(f"/v1/notifications/{one}", headers=ALICE)).status_code == 200
        other = by_recipient.json()["items"][0]["id"]
        assert (await client.get(f"/v1/notifications/{other}", headers=ALICE)).status_code == 404

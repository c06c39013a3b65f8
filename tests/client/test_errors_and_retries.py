"""The client's error mapping, retry policy and signatures, against scripted answers (no stack)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from deskside_client import (
    BadRequest,
    Conflict,
    DesksideClient,
    DesksideConnectionError,
    DesksideError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    WebhookVerificationFailed,
    sign_webhook,
    verify_webhook,
)
from deskside_client.errors import error_from_response
from tests.client.conftest import new_secret

FAST = RetryPolicy(retries=2, backoff=0.001, max_backoff=0.002)
Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, **members: object) -> httpx.Response:
    body = {"type": "about:blank", "title": "Problem", "status": status, **members}
    return httpx.Response(
        status, headers={"Content-Type": "application/problem+json"}, content=json.dumps(body)
    )


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler answering in turn; the last answer repeats."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def client_for(handler: Handler, policy: RetryPolicy = FAST) -> DesksideClient:
    return DesksideClient(
        "http://deskside.test",
        "token",
        retries=policy,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (400, BadRequest),
            (401, Unauthorized),
            (403, Forbidden),
            (404, NotFound),
            (409, Conflict),
            (412, PreconditionFailed),
            (422, Unprocessable),
            (429, RateLimited),
            (500, ServerError),
            (502, ServiceUnavailable),
            (503, ServiceUnavailable),
            (504, ServiceUnavailable),
            (418, DesksideError),
        ],
    )
    def test_each_status_has_its_class(self, status: int, kind: type[DesksideError]) -> None:
        error = error_from_response(problem(status, detail="why", request_id="req-1"))
        assert type(error) is kind
        assert (error.status, error.detail, error.request_id) == (status, "why", "req-1")

    def test_members_and_extensions_are_kept(self) -> None:
        error = error_from_response(
            problem(
                412,
                type="urn:deskside:problem:stale-version",
                title="The resource has changed",
                current_version=7,
                errors=[{"field": "body.title", "message": "too long", "code": "too_long"}],
            )
        )
        assert isinstance(error, PreconditionFailed)
        assert error.slug == "stale-version"
        assert error.current_version == 7
        assert error.field_errors[0].field == "body.title"
        assert "412 The resource has changed" in str(error)

    def test_an_answer_that_is_not_problem_json_still_maps(self) -> None:
        response = httpx.Response(502, text="<html>bad gateway</html>")
        error = error_from_response(response)
        assert isinstance(error, ServiceUnavailable)
        assert error.detail == "<html>bad gateway</html>"


class TestRetries:
    async def test_reads_are_retried_on_5xx_and_transport_errors(self) -> None:
        ok = httpx.Response(200, json={"items": [], "next_cursor": None})
        handler, seen = scripted(problem(503), httpx.ReadTimeout("slow"), ok)
        async with client_for(handler) as client:
            await client.tickets.list()
        assert len(seen) == 3

    async def test_keyed_creates_keep_their_key_and_wait_out_in_flight(self) -> None:
        in_flight = problem(
            409, type="urn:deskside:problem:idempotency-key-in-flight", title="In progress"
        )
        in_flight.headers["Retry-After"] = "0"
        handler, seen = scripted(httpx.ReadError("lost"), in_flight, problem(201))
        async with client_for(handler, RetryPolicy(retries=3, backoff=0.001)) as client:
            # 201 with a problem body is not a ticket: validation fails, after the retries.
            with pytest.raises(ValueError):  # noqa: PT011
                await client.tickets.create(title="A")
        assert len(seen) == 3
        assert len({r.headers["Idempotency-Key"] for r in seen}) == 1
        assert json.loads(seen[0].content) == {"title": "A"}

    async def test_an_idempotency_key_can_be_given(self) -> None:
        handler, seen = scripted(problem(422))
        async with client_for(handler) as client:
            with pytest.raises(Unprocessable):
                await client.tickets.create(title="A", idempotency_key="mine-1")
        assert seen[0].headers["Idempotency-Key"] == "mine-1"
        assert len(seen) == 1  # a 422 is final

    async def test_state_changes_are_retried_only_when_never_sent(self) -> None:
        handler, seen = scripted(httpx.ConnectError("refused"), problem(504))
        async with client_for(handler) as client:
            with pytest.raises(ServiceUnavailable):
                await client.tickets.resolve("SD-000001", "Done")
        assert len(seen) == 2  # the refused connection, then the 504 (not retried)
        assert "Idempotency-Key" not in seen[0].headers

    async def test_a_lost_answer_to_a_state_change_is_raised(self) -> None:
        handler, seen = scripted(httpx.ReadError("lost"))
        async with client_for(handler) as client:
            with pytest.raises(DesksideConnectionError):
                await client.tickets.start("SD-000001")
        assert len(seen) == 1

    async def test_a_delete_whose_answer_was_lost_is_done_when_retried(self) -> None:
        handler, seen = scripted(httpx.ReadError("lost"), problem(404))
        async with client_for(handler) as client:
            await client.webhooks.delete("whk_1")
        assert len(seen) == 2
        handler, seen = scripted(problem(404))
        async with client_for(handler) as client:
            with pytest.raises(NotFound):
                await client.webhooks.delete("whk_1")

    async def test_a_retry_after_beyond_the_limit_is_not_waited_for(self) -> None:
        busy = problem(429)
        busy.headers["Retry-After"] = "3600"
        handler, seen = scripted(busy)
        began = time.monotonic()
        async with client_for(handler) as client:
            with pytest.raises(RateLimited) as raised:
                await client.tickets.get("SD-000001")
        assert time.monotonic() - began < 1
        assert raised.value.retry_after == 3600
        assert len(seen) == 1

    def test_backoff_grows_is_capped_and_jittered(self) -> None:
        policy = RetryPolicy(backoff=0.5, max_backoff=4.0)
        for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
            delays = {policy.delay(attempt) for _ in range(20)}
            assert all(ceiling / 2 <= d <= ceiling for d in delays)
            assert len(delays) > 1
        assert policy.delay(1, retry_after=2.5) == 2.5

    async def test_if_match_filters_and_paths_on_the_wire(self) -> None:
        handler, seen = scripted(problem(412))
        async with client_for(handler) as client:
            with pytest.raises(PreconditionFailed):
                await client.tickets.update("a/b", title="T", if_match=3)
            with pytest.raises(PreconditionFailed):
                await client.tickets.list(status=["new", "in_progress"], breached=True, q=None)
        assert seen[0].headers["If-Match"] == '"3"'
        assert seen[0].url.raw_path == b"/v1/tickets/a%2Fb"
        assert json.loads(seen[0].content) == {"title": "T"}
        assert seen[1].url.params.get_list("status") == ["new", "in_progress"]
        assert seen[1].url.params["breached"] == "true"
        assert "q" not in seen[1].url.params
        assert seen[1].headers["Authorization"] == "Bearer token"


class TestSignatures:
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "ticket.created",
            "timestamp": "2026-11-23T09:30:00Z",
            "source": "tickets",
            "subject": "tkt_1",
            "data": {"ticket": {"reference": "SD-000001"}},
        }
    ).encode()

    def test_a_signed_event_verifies_with_any_of_its_secrets(self) -> None:
        old, new = new_secret(), new_secret()
        headers = sign_webhook(old, self.body, webhook_id="evt_1")
        event = verify_webhook([new, old], self.body, headers)
        assert event.id == "evt_1"
        assert event.data["ticket"]["reference"] == "SD-000001"

    @pytest.mark.parametrize(
        "spoil",
        [
            lambda h: {**h, "webhook-signature": "v1,AAAA"},
            lambda h: {**h, "webhook-signature": "garbage"},
            lambda h: {k: v for k, v in h.items() if k != "webhook-id"},
            lambda h: {**h, "webhook-id": "evt_other"},
        ],
    )
    def test_a_spoiled_header_fails(
        self, spoil: Callable[[dict[str, str]], dict[str, str]]
    ) -> None:
        secret = new_secret()
        headers = sign_webhook(secret, self.body, webhook_id="evt_1")
        with pytest.raises(WebhookVerificationFailed):
            verify_webhook(secret, self.body, spoil(headers))

    def test_an_old_timestamp_fails(self) -> None:
        secret = new_secret()
        then = datetime.now(UTC) - timedelta(minutes=6)
        headers = sign_webhook(secret, self.body, timestamp=then)
        with pytest.raises(WebhookVerificationFailed, match="too old"):
            verify_webhook(secret, self.body, headers)

    def test_a_signed_body_that_is_not_an_event_fails(self) -> None:
        secret = new_secret()
        body = b'{"hello": "world"}'
        with pytest.raises(WebhookVerificationFailed, match="not a Deskside event"):
            verify_webhook(secret, body, sign_webhook(secret, body))

    def test_a_malformed_secret_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="not a webhook secret"):
            verify_webhook("whsec_###", self.body, sign_webhook(new_secret(), self.body))

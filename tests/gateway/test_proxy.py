"""Forwarding: what reaches the service, what comes back, and upstream failures."""

from __future__ import annotations

import hashlib
import os
from urllib.parse import unquote

import httpx
import pytest
from starlette.types import Message

from deskside_gateway.app import create_app
from deskside_gateway.config import GatewaySettings
from tests.gateway.conftest import (
    SLOW_SECONDS,
    GatewayFor,
    echo_app,
    echoed,
    echoed_headers,
    running_upstream,
    unused_url,
)
from tests.support.tokens import TEST_JWT_SECRET

PROBLEM = "application/problem+json"


class TestForwarding:
    async def test_each_prefix_reaches_its_service(self, gateway: httpx.AsyncClient) -> None:
        for path, service in [
            ("/v1/tickets", "tickets"),
            ("/v1/technologies", "inventory"),
            ("/v1/webhooks", "notify"),
        ]:
            assert echoed(await gateway.get(path))["service"] == service

    async def test_path_and_query_arrive_as_sent(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/v1/tickets/SD-1%2F2/notes%20x?q=caf%C3%A9&q=2&empty=")
        payload = echoed(response)
        assert payload["raw_path"] == "/v1/tickets/SD-1%2F2/notes%20x"
        assert payload["query"] == "q=caf%C3%A9&q=2&empty="

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    async def test_methods_and_bodies_pass_through(
        self, gateway: httpx.AsyncClient, method: str
    ) -> None:
        body = b'{"title": "VPN drops on my iPad"}'
        response = await gateway.request(
            method, "/v1/tickets", content=body, headers={"content-type": "application/json"}
        )
        payload = echoed(response)
        assert payload["method"] == method
        assert payload["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert echoed_headers(response)["content-type"] == ["application/json"]

    async def test_a_large_body_arrives_whole(self, gateway: httpx.AsyncClient) -> None:
        # Escalation evidence has the larger body limit (10 MiB).
        body = os.urandom(8 * 1024 * 1024)
        payload = echoed(await gateway.post("/v1/tickets/SD-1/escalations", content=body))
        assert payload["body_length"] == len(body)
        assert payload["body_sha256"] == hashlib.sha256(body).hexdigest()

    async def test_a_chunked_upload_arrives_whole(self, gateway: httpx.AsyncClient) -> None:
        async def chunks():  # type: ignore[no-untyped-def]
            for index in range(100):
                yield f"part {index};".encode()

        expected = b"".join(f"part {index};".encode() for index in range(100))
        payload = echoed(await gateway.post("/v1/tickets", content=chunks()))
        assert payload["body_sha256"] == hashlib.sha256(expected).hexdigest()

    async def test_a_streamed_answer_arrives_whole(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/v1/tickets/stream", params={"count": 500})
        assert response.status_code == 200
        assert response.text == "".join(f"chunk {index}\n" for index in range(500))

    async def test_status_and_repeated_headers_come_back(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/v1/tickets", headers={"x-status": "418"})
        assert response.status_code == 418
        assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]

    async def test_hop_by_hop_headers_are_dropped_both_ways(
        self, gateway: httpx.AsyncClient
    ) -> None:
        response = await gateway.get(
            "/v1/tickets",
            headers={
                "connection": "keep-alive, x-caller-private",
                "x-caller-private": "secret",
                "keep-alive": "timeout=5",
                "te": "trailers",
                "proxy-authorization": "Basic Zm9vOmJhcg==",
                "authorization": "Bearer kept",
            },
        )
        sent = echoed_headers(response)
        for name in ("x-caller-private", "keep-alive", "te", "proxy-authorization"):
            assert name not in sent
        assert sent["authorization"] == ["Bearer kept"]
        for name in ("x-upstream-private", "keep-alive"):
            assert name not in response.headers

    async def test_the_service_credential_is_never_forwarded(
        self, gateway: httpx.AsyncClient
    ) -> None:
        response = await gateway.get("/v1/tickets", headers={"x-deskside-service-token": "forged"})
        assert "x-deskside-service-token" not in echoed_headers(response)

    async def test_forwarded_headers_describe_the_caller(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get(
            "/v1/tickets",
            headers={"x-forwarded-for": "6.6.6.6", "x-forwarded-host": "evil.example"},
        )
        sent = echoed_headers(response)
        # ASGITransport's client address; a forged chain from the caller is not kept.
        assert sent["x-forwarded-for"] == ["127.0.0.1"]
        assert sent["x-forwarded-proto"] == ["http"]
        assert sent["x-forwarded-host"] == ["testserver"]

    async def test_a_trusted_proxy_chain_is_extended(
        self, gateway_for: GatewayFor, upstreams: dict[str, str]
    ) -> None:
        gateway = await gateway_for(**upstreams, trust_forwarded_headers=True)
        response = await gateway.get(
            "/v1/tickets",
            headers={
                "x-forwarded-for": "203.0.113.7",
                "x-forwarded-proto": "https",
                "x-forwarded-host": "desk.example.com",
            },
        )
        sent = echoed_headers(response)
        assert sent["x-forwarded-for"] == ["203.0.113.7, 127.0.0.1"]
        assert sent["x-forwarded-proto"] == ["https"]
        assert sent["x-forwarded-host"] == ["desk.example.com"]


class TestRequestIds:
    async def test_a_well_formed_id_is_kept_passed_on_and_echoed(
        self, gateway: httpx.AsyncClient
    ) -> None:
        response = await gateway.get("/v1/tickets", headers={"x-request-id": "call-42"})
        assert echoed_headers(response)["x-request-id"] == ["call-42"]
        assert response.headers["x-request-id"] == "call-42"

    @pytest.mark.parametrize("incoming", [None, "bad id with spaces", "x" * 300])
    async def test_otherwise_one_is_made(
        self, gateway: httpx.AsyncClient, incoming: str | None
    ) -> None:
        headers = {"x-request-id": incoming} if incoming else {}
        response = await gateway.get("/v1/tickets", headers=headers)
        made = response.headers["x-request-id"]
        assert made
        assert made != incoming
        assert echoed_headers(response)["x-request-id"] == [made]


class TestUpstreamFailures:
    async def test_a_refused_connection_is_a_502_problem(self, gateway_for: GatewayFor) -> None:
        gateway = await gateway_for(tickets_url=unused_url())
        response = await gateway.post("/v1/tickets", json={"title": "x"})
        assert response.status_code == 502
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["type"] == "urn:deskside:problem:upstream-unavailable"
        assert problem["service"] == "tickets"
        assert problem["request_id"] == response.headers["x-request-id"]

    async def test_a_silent_service_is_a_504_problem(self, gateway_for: GatewayFor) -> None:
        async with running_upstream(echo_app("tickets")) as tickets:
            gateway = await gateway_for(tickets_url=tickets, upstream_timeout=SLOW_SECONDS / 6)
            response = await gateway.get("/v1/tickets/slow")
        assert response.status_code == 504
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:deskside:problem:upstream-timeout"
        assert response.json()["service"] == "tickets"

    async def test_failures_are_counted(self, gateway_for: GatewayFor) -> None:
        gateway = await gateway_for()
        await gateway.get("/v1/technologies")
        metrics = (await gateway.get("/metrics")).text
        assert (
            'gateway_upstream_errors_total{kind="unreachable",service="inventory"} 1.0' in metrics
        )


class TestOwnPaths:
    @pytest.mark.parametrize("path", ["/nowhere", "/internal/events", "/v1/ticketsfoo", "/v1"])
    async def test_unrouted_paths_are_404_problems(
        self, gateway: httpx.AsyncClient, path: str
    ) -> None:
        response = await gateway.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert path in response.json()["detail"]

    @pytest.mark.parametrize(
        "path", ["/v1/tickets/../../internal/events", "/v1/tickets/%2e%2e/x", "/v1/tickets/."]
    )
    async def test_dot_segments_are_refused(self, path: str) -> None:
        # Straight to the ASGI app: httpx would resolve the dots before sending,
        # but a raw client can send them as they are.
        app = create_app(GatewaySettings(env="test", jwt_secret=TEST_JWT_SECRET))  # type: ignore[arg-type]
        raw_path = path.encode()
        scope = {
            "type": "http",
            "method": "GET",
            "path": unquote(path),
            "raw_path": raw_path,
            "query_string": b"",
            "headers": [],
            "scheme": "http",
            "client": ("127.0.0.1", 1),
        }
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 400
        assert (b"content-type", PROBLEM.encode()) in sent[0]["headers"]

    async def test_liveness_needs_no_service(self, gateway_for: GatewayFor) -> None:
        gateway = await gateway_for()
        response = await gateway.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    async def test_metrics_label_proxied_requests_by_prefix(
        self, gateway: httpx.AsyncClient
    ) -> None:
        await gateway.get("/v1/tickets/SD-000001")
        metrics = (await gateway.get("/metrics")).text
        assert 'route="/v1/tickets"' in metrics
        assert "SD-000001" not in metrics


class TestReadiness:
    async def test_ready_when_every_service_is(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"tickets": "ok", "inventory": "ok", "notify": "ok"}

    async def test_names_each_service_that_is_not(self, gateway_for: GatewayFor) -> None:
        async with (
            running_upstream(echo_app("tickets")) as tickets,
            running_upstream(echo_app("inventory", ready=False)) as inventory,
        ):
            gateway = await gateway_for(
                tickets_url=tickets, inventory_url=inventory, notify_url=unused_url()
            )
            response = await gateway.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["checks"] == {
            "tickets": "ok",
            "inventory": "not ready (503)",
            "notify": "unreachable",
        }


def test_a_bad_upstream_url_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from deskside_kit.settings import SettingsError, load_settings

    monkeypatch.setenv("DESKSIDE_GATEWAY_TICKETS_URL", "not a url")
    with pytest.raises(SettingsError, match="DESKSIDE_GATEWAY_TICKETS_URL"):
        load_settings(GatewaySettings)

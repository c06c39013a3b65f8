"""CORS: decided at the gateway alone, preflights answered there, services' headers dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deskside_gateway.config import GatewaySettings
from deskside_kit.settings import SettingsError, load_settings
from tests.gateway.conftest import GatewayFor, running_upstream
from tests.support.tokens import bearer

PROBLEM = "application/problem+json"
APP = "https://desk.example.com"
OTHER = "https://evil.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "PATCH",
    "Access-Control-Request-Headers": "authorization,content-type,if-match",
}


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value for name, value in response.headers.items() if name.startswith("access-control")
    }


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


class Upstream:
    """A service that records what reaches it and answers with CORS headers of its own."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.url = ""

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            self.seen.append((request.method, request.url.path))
            response = JSONResponse({"ok": True}, status_code=201)
            response.headers["etag"] = '"1"'
            response.headers["location"] = "/v1/tickets/SD-000001"
            # What a service must never decide: the gateway drops all of it.
            response.headers["access-control-allow-origin"] = "*"
            response.headers["access-control-allow-credentials"] = "true"
            response.headers["access-control-expose-headers"] = "x-secret"
            return response

        methods = ["GET", "POST", "PATCH", "DELETE", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", answer, methods=methods)])


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    recorder = Upstream()
    async with running_upstream(recorder.app()) as url:
        recorder.url = url
        yield recorder


@pytest.fixture
async def gateway_with(gateway_for: GatewayFor, upstream: Upstream) -> GatewayFor:
    """`await gateway_with(**settings)`: a gateway whose tickets service is `upstream`."""

    async def make(**settings: Any) -> httpx.AsyncClient:
        return await gateway_for(tickets_url=upstream.url, **settings)

    return make


class TestPreflight:
    async def test_an_allowed_origin_is_told_what_it_may_send(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(cors_origins=[APP])
        response = await gateway.options(
            "/v1/tickets/SD-000001", headers={"Origin": APP, **PREFLIGHT}
        )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == APP
        assert {"get", "post", "patch", "delete"} <= listed(
            response.headers["access-control-allow-methods"]
        )
        assert {"authorization", "content-type", "idempotency-key", "if-match"} <= listed(
            response.headers["access-control-allow-headers"]
        )
        assert response.headers["access-control-max-age"] == "600"
        assert "access-control-allow-credentials" not in response.headers
        assert "origin" in listed(response.headers["vary"])

    async def test_another_origin_gets_a_403_problem_and_no_cors_header(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(cors_origins=[APP])
        response = await gateway.options("/v1/tickets", headers={"Origin": OTHER, **PREFLIGHT})
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM
        assert cors_headers(response) == {}
        problem = response.json()
        assert problem["type"] == "urn:deskside:problem:cors-origin-not-allowed"
        assert OTHER in problem["detail"]

    async def test_by_default_no_origin_is_allowed(self, gateway_with: GatewayFor) -> None:
        gateway = await gateway_with()
        response = await gateway.options("/v1/tickets", headers={"Origin": APP, **PREFLIGHT})
        assert response.status_code == 403
        assert cors_headers(response) == {}

    async def test_a_preflight_never_reaches_the_service(
        self, gateway_with: GatewayFor, upstream: Upstream
    ) -> None:
        gateway = await gateway_with(cors_origins=[APP])
        for origin in (APP, OTHER):
            await gateway.options("/v1/tickets", headers={"Origin": origin, **PREFLIGHT})
        assert upstream.seen == []
        # An OPTIONS that is no preflight is the service's to answer.
        await gateway.options("/v1/tickets", headers={"Origin": APP})
        assert upstream.seen == [("OPTIONS", "/v1/tickets")]

    async def test_credentials_and_max_age_follow_the_settings(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(
            cors_origins=[APP], cors_allow_credentials=True, cors_max_age=60
        )
        response = await gateway.options("/v1/tickets", headers={"Origin": APP, **PREFLIGHT})
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["access-control-max-age"] == "60"

    async def test_every_origin_may_be_allowed(self, gateway_with: GatewayFor) -> None:
        gateway = await gateway_with(cors_origins=["*"])
        response = await gateway.options("/v1/tickets", headers={"Origin": OTHER, **PREFLIGHT})
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "*"
        assert "vary" not in response.headers

    async def test_a_preflight_costs_no_rate_limit_token(self, gateway_with: GatewayFor) -> None:
        gateway = await gateway_with(
            cors_origins=[APP], rate_limit_burst=1, rate_limit_per_second=0.001
        )
        for _ in range(3):
            preflight = await gateway.options("/v1/tickets", headers={"Origin": APP, **PREFLIGHT})
            assert preflight.status_code == 204
        assert (await gateway.get("/v1/tickets", headers={"Origin": APP})).status_code == 201


class TestOtherRequests:
    async def test_an_allowed_origin_may_read_the_answer_and_its_headers(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(cors_origins=[APP])
        response = await gateway.post(
            "/v1/tickets", json={"title": "x"}, headers={"Origin": APP, **bearer("alice")}
        )
        assert response.status_code == 201
        # The service's own CORS headers are gone; the gateway's are there instead.
        assert response.headers["access-control-allow-origin"] == APP
        assert "access-control-allow-credentials" not in response.headers
        exposed = listed(response.headers["access-control-expose-headers"])
        assert "x-secret" not in exposed
        # Every header the API sends that a page needs (safelisted ones need no exposing).
        sent = {name for name in response.headers if name.startswith(("etag", "location", "x-"))}
        sent |= {name for name in response.headers if name.startswith("ratelimit-")}
        assert sent <= exposed
        assert {"etag", "location", "x-request-id", "retry-after"} <= exposed
        assert "origin" in listed(response.headers["vary"])

    async def test_another_origin_gets_no_cors_header(self, gateway_with: GatewayFor) -> None:
        gateway = await gateway_with(cors_origins=[APP])
        response = await gateway.get("/v1/tickets", headers={"Origin": OTHER})
        assert response.status_code == 201
        assert cors_headers(response) == {}
        # A cache must not hand this answer to the allowed origin.
        assert "origin" in listed(response.headers["vary"])

    async def test_without_an_origin_no_cors_header_and_no_service_one(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with()
        response = await gateway.get("/v1/tickets")
        assert response.status_code == 201
        assert cors_headers(response) == {}
        assert "vary" not in response.headers

    async def test_credentials_are_allowed_only_when_switched_on(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(cors_origins=[APP], cors_allow_credentials=True)
        response = await gateway.get("/v1/tickets", headers={"Origin": APP})
        assert response.headers["access-control-allow-origin"] == APP
        assert response.headers["access-control-allow-credentials"] == "true"

    async def test_the_gateways_own_refusals_are_readable_by_the_page(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(
            cors_origins=[APP], rate_limit_burst=1, rate_limit_per_second=0.001
        )
        await gateway.get("/v1/tickets", headers={"Origin": APP})
        refused = await gateway.get("/v1/tickets", headers={"Origin": APP})
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == APP
        assert "retry-after" in listed(refused.headers["access-control-expose-headers"])

    async def test_an_unreachable_service_is_readable_by_the_page(
        self, gateway_for: GatewayFor
    ) -> None:
        gateway = await gateway_for(cors_origins=[APP])
        response = await gateway.get("/v1/tickets", headers={"Origin": APP})
        assert response.status_code == 502
        assert response.headers["access-control-allow-origin"] == APP

    async def test_the_gateways_own_paths_follow_the_same_policy(
        self, gateway_with: GatewayFor
    ) -> None:
        gateway = await gateway_with(cors_origins=[APP])
        allowed = await gateway.get("/healthz", headers={"Origin": APP})
        assert allowed.headers["access-control-allow-origin"] == APP
        refused = await gateway.get("/healthz", headers={"Origin": OTHER})
        assert cors_headers(refused) == {}


class TestSettings:
    @pytest.mark.parametrize(
        "value",
        [
            '["https://desk.example.com", "http://127.0.0.1:5173"]',
            "https://desk.example.com, http://127.0.0.1:5173",
            "HTTPS://Desk.Example.com,http://127.0.0.1:5173,",
        ],
    )
    def test_origins_are_a_json_list_or_separated_by_commas(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("DESKSIDE_GATEWAY_CORS_ORIGINS", value)
        settings = load_settings(GatewaySettings)
        assert settings.cors_origins == ["https://desk.example.com", "http://127.0.0.1:5173"]

    def test_the_defaults_allow_no_origin_and_no_credentials(self) -> None:
        settings = GatewaySettings()
        assert settings.cors_origins == []
        assert settings.cors_allow_credentials is False

    @pytest.mark.parametrize(
        ("value", "complaint"),
        [
            ("https://desk.example.com/", "not an origin"),
            ("https://desk.example.com/app", "not an origin"),
            ("desk.example.com", "not an origin"),
            ("null", "not an origin"),
            ("https://desk.example.com:443", "default port"),
            ('["*", "https://desk.example.com"]', "alone"),
            ("[not json", "not a JSON list"),
        ],
    )
    def test_a_wrong_origin_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, value: str, complaint: str
    ) -> None:
        monkeypatch.setenv("DESKSIDE_GATEWAY_CORS_ORIGINS", value)
        with pytest.raises(SettingsError, match="DESKSIDE_GATEWAY_CORS_ORIGINS") as raised:
            load_settings(GatewaySettings)
        assert complaint in str(raised.value)

    def test_credentials_are_refused_for_every_origin(self) -> None:
        with pytest.raises(ValidationError, match="DESKSIDE_GATEWAY_CORS_ALLOW_CREDENTIALS"):
            GatewaySettings(cors_origins=["*"], cors_allow_credentials=True)

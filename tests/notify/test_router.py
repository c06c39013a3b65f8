"""The notify API's first slice: webhook subscriptions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.support.tokens import bearer


class TestListWebhooks:
    @pytest.mark.parametrize("role", ["admin", "integration"])
    async def test_admins_and_integrations_list_subscriptions(
        self, client: httpx.AsyncClient, role: str
    ) -> None:
        response = await client.get("/v1/webhooks", headers=bearer("ops", role))

        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}

    @pytest.mark.parametrize("role", ["requester", "agent"])
    async def test_other_roles_are_refused(self, client: httpx.AsyncClient, role: str) -> None:
        response = await client.get("/v1/webhooks", headers=bearer("someone", role))

        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert "admin, integration" in response.json()["detail"]

    async def test_no_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/webhooks")

        assert response.status_code == 401

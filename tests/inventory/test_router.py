"""The inventory API's first slice: the catalog, on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.support.tokens import bearer


class TestListTechnologies:
    @pytest.mark.parametrize("role", ["requester", "agent", "admin", "integration"])
    async def test_everyone_reads_the_catalog(self, client: httpx.AsyncClient, role: str) -> None:
        response = await client.get("/v1/technologies", headers=bearer("someone", role))

        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}

    async def test_no_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/technologies")

        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


class TestGetTechnology:
    async def test_an_unknown_key_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/technologies/ipad", headers=bearer("alice"))

        assert response.status_code == 404
        problem = response.json()
        assert problem["type"] == "urn:deskside:problem:technology-not-found"
        assert "'ipad'" in problem["detail"]

    async def test_a_malformed_key_names_the_parameter(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/technologies/Not%20A%20Key", headers=bearer("alice"))

        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "path.key"

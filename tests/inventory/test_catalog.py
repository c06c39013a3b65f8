"""The technology catalog: admins keep it, everyone reads it, tier changes are announced."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from deskside_inventory.catalog import load_starter_catalog, starter_catalog
from deskside_inventory.repository import TechnologyRepository
from deskside_kit.outbox import OutboxEvent
from tests.support.apps import app_sessions
from tests.support.tokens import bearer

ADMIN = bearer("root", "admin")
ALICE = bearer("alice", "requester")
PROBLEM = "application/problem+json"

DROPBOX: dict[str, Any] = {
    "key": "dropbox",
    "name": "Dropbox",
    "kind": "service",
    "category": "file_sharing",
    "vendor": "Dropbox, Inc.",
    "support_tier": "best_effort",
    "guide": "## Dropbox\n\nSign in with your own account; keep work files in the shared folder.",
    "links": [{"title": "Help centre", "url": "https://help.dropbox.com"}],
    "vendor_support": {"url": "https://help.dropbox.com", "escalation": "Business ticket"},
    "app_identifiers": ["com.dropbox.android", "com.getdropbox.Dropbox"],
}


async def events(client: httpx.AsyncClient) -> list[OutboxEvent]:
    async with app_sessions(client).reading() as session:
        rows = await session.exec(select(OutboxEvent).order_by(OutboxEvent.sequence))  # type: ignore[arg-type]
        return list(rows.all())


async def add(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/technologies", json={**DROPBOX, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    technology: dict[str, Any] = response.json()
    return technology


class TestManagingTheCatalog:
    async def test_an_admin_adds_a_technology_everyone_reads(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await add(client)
        assert created["version"] == 1
        read = await client.get("/v1/technologies/dropbox", headers=ALICE)
        assert read.status_code == 200
        assert read.json() == created
        assert read.headers["etag"] == '"1"'
        assert read.json()["vendor_support"]["escalation"] == "Business ticket"
        assert [e.type for e in await events(client)] == ["technology.created"]

    async def test_only_admins_change_the_catalog(self, client: httpx.AsyncClient) -> None:
        for role in ("requester", "agent", "integration"):
            response = await client.post(
                "/v1/technologies", json=DROPBOX, headers=bearer("x", role)
            )
            assert response.status_code == 403, role
        await add(client)
        response = await client.patch(
            "/v1/technologies/dropbox", json={"support_tier": "supported"}, headers=ALICE
        )
        assert response.status_code == 403

    async def test_a_key_is_added_once(self, client: httpx.AsyncClient) -> None:
        await add(client)
        again = await client.post("/v1/technologies", json=DROPBOX, headers=ADMIN)
        assert again.status_code == 409
        assert again.json()["type"] == "urn:deskside:problem:technology-exists"

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"key": "Drop Box"}, "body.key"),
            ({"kind": "gadget"}, "body.kind"),
            ({"support_tier": "maybe"}, "body.support_tier"),
            ({"links": [{"title": "x", "url": "ftp://x"}]}, "body.links.0.url"),
            ({"min_os_version": "latest"}, "body.min_os_version"),
        ],
    )
    async def test_bad_fields_are_named(
        self, client: httpx.AsyncClient, change: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/v1/technologies", json={**DROPBOX, **change}, headers=ADMIN)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert [error["field"] for error in response.json()["errors"]] == [field]

    async def test_the_recommended_alternative_must_exist(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/technologies",
            json={**DROPBOX, "support_tier": "unsupported", "recommended_alternative": "onedrive"},
            headers=ADMIN,
        )
        assert response.status_code == 422
        assert "onedrive" in response.json()["detail"]

    async def test_creates_honour_idempotency_keys(self, client: httpx.AsyncClient) -> None:
        headers = {**ADMIN, "Idempotency-Key": "catalog-1"}
        first = await client.post("/v1/technologies", json=DROPBOX, headers=headers)
        again = await client.post("/v1/technologies", json=DROPBOX, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["idempotent-replayed"] == "true"


class TestTierChanges:
    async def test_a_tier_change_is_versioned_and_announced(
        self, client: httpx.AsyncClient
    ) -> None:
        await add(client)
        changed = await client.patch(
            "/v1/technologies/dropbox",
            json={"support_tier": "prohibited"},
            headers={**ADMIN, "If-Match": '"1"'},
        )
        stale = await client.patch(
            "/v1/technologies/dropbox",
            json={"support_tier": "supported"},
            headers={**ADMIN, "If-Match": '"1"'},
        )

        assert changed.status_code == 200
        assert (changed.json()["support_tier"], changed.json()["version"]) == ("prohibited", 2)
        assert stale.status_code == 412
        tier_changes = [e for e in await events(client) if e.type == "technology.tier_changed"]
        assert len(tier_changes) == 1
        data = tier_changes[0].data
        assert (data["old_tier"], data["new_tier"]) == ("best_effort", "prohibited")
        assert data["people_affected"] == 0  # nobody has a device or account on it yet
        assert tier_changes[0].subject == "dropbox"

    async def test_other_changes_are_not_tier_changes(self, client: httpx.AsyncClient) -> None:
        await add(client)
        response = await client.patch(
            "/v1/technologies/dropbox", json={"recommended": True}, headers=ADMIN
        )
        assert response.json()["recommended"] is True
        assert [e.type for e in await events(client)] == ["technology.created"]


class TestFindingTechnologies:
    @pytest.fixture
    async def catalog(self, client: httpx.AsyncClient) -> None:
        async with app_sessions(client).write_transaction() as session:
            await load_starter_catalog(TechnologyRepository(session))

    @pytest.mark.usefixtures("catalog")
    async def test_filters_and_search(self, client: httpx.AsyncClient) -> None:
        async def keys(**params: Any) -> list[str]:
            response = await client.get(
                "/v1/technologies", params={"limit": 200, **params}, headers=ALICE
            )
            assert response.status_code == 200, response.text
            return [t["key"] for t in response.json()["items"]]

        assert await keys(category="messaging") == ["slack", "teams", "telegram", "whatsapp"]
        assert "telegram" in await keys(tier="prohibited")
        assert set(await keys(kind="device_platform")) >= {"ios", "android", "windows"}
        assert "onedrive" in await keys(recommended=True)
        assert await keys(q="drive") == ["google-drive", "icloud-drive", "onedrive"]
        assert await keys(q="MICROSOFT", category="messaging") == ["teams"]

    @pytest.mark.usefixtures("catalog")
    async def test_pages_walk_the_catalog_by_key(self, client: httpx.AsyncClient) -> None:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/technologies", params=params, headers=ALICE)).json()
            seen += [t["key"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(seen)
        assert len(seen) == len(starter_catalog())


class TestStarterCatalog:
    def test_it_covers_the_common_platforms_and_services(self) -> None:
        entries = {entry.key: entry for entry in starter_catalog()}
        for key in ("ios", "ipados", "android", "macos", "windows", "chromeos"):
            assert entries[key].kind == "device_platform"
            assert entries[key].support_tier is not None
        for key in ("gmail", "outlook-com", "dropbox", "google-drive", "onedrive", "evernote",
                    "prezi", "slack", "whatsapp", "zoom", "facebook"):  # fmt: skip
            assert entries[key].kind == "service"
        for entry in entries.values():
            if entry.recommended_alternative is not None:
                assert entries[entry.recommended_alternative].recommended

    async def test_loading_it_twice_adds_nothing_twice(self, client: httpx.AsyncClient) -> None:
        async with app_sessions(client).write_transaction() as session:
            first = await load_starter_catalog(TechnologyRepository(session))
        async with app_sessions(client).write_transaction() as session:
            second = await load_starter_catalog(TechnologyRepository(session))
        assert (first, second) == (len(starter_catalog()), 0)

    @pytest.mark.parametrize(("env", "expected"), [("development", True), ("test", False)])
    async def test_the_embedded_stack_starts_with_it(
        self, database_url_for: Any, tmp_path: Any, env: str, expected: bool
    ) -> None:
        from deskside_inventory.app import create_app
        from deskside_inventory.config import InventorySettings
        from tests.support.apps import serving
        from tests.support.tokens import TEST_JWT_SECRET

        settings = InventorySettings(
            env=env,
            var_dir=tmp_path,
            database_url=await database_url_for("inventory"),
            jwt_secret=TEST_JWT_SECRET,
            relay_enabled=False,
        )
        async with serving(create_app(settings)) as client:
            listed = (await client.get("/v1/technologies", headers=ALICE)).json()
        assert bool(listed["items"]) is expected

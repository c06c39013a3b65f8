"""Retried creates never create twice; a ticket is created even when inventory is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from deskside_contracts.tickets import TicketCreate
from deskside_kit.database import Sessions, utc_now
from deskside_kit.idempotency import IdempotencyKey, request_fingerprint
from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from deskside_tickets.repository import TicketRepository
from deskside_tickets.service import TicketService
from deskside_tickets.technologies import TechnologyDirectory
from tests.support.apps import app_sessions, serving
from tests.support.plans import plan_of_query, statements_sent, transaction_control_sent
from tests.tickets.conftest import AGENT, ALICE, BOB, PROBLEM, SERVICE_TOKEN, outbox_events

BODY = {"title": "Outlook on my Mac keeps asking for my password"}


# A trigger that makes the database refuse every audit record, and how to drop it.
_REFUSE_AUDIT_RECORDS = {
    "postgresql": (
        [
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records"
            " FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        ["DROP TRIGGER refuse_audit ON audit_records", "DROP FUNCTION refuse_audit()"],
    ),
    "sqlite": (
        [
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ],
        ["DROP TRIGGER refuse_audit"],
    ),
}


async def _row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table: (
                await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")  # noqa: S608
            ).scalar_one()
            for table in ("tickets", "ticket_changes", "outbox", "audit_records")
        }


async def _keys(client: httpx.AsyncClient) -> list[IdempotencyKey]:
    async with app_sessions(client).reading() as session:
        return list((await session.exec(select(IdempotencyKey))).all())


class TestACreateIsOneStatement:
    """On PostgreSQL a steady create is one statement, sent without BEGIN or COMMIT."""

    @pytest.fixture
    async def steady_client(self, settings: TicketsSettings) -> AsyncIterator[httpx.AsyncClient]:
        # A steady create: after the first, which also reads the SLA policies and the
        # routing rules, kept here for the whole test; and no background job sending
        # statements of its own while a test watches what a create sends.
        steady = settings.model_copy(
            update={
                "snapshot_seconds": 300,
                "housekeeping_interval": 3600,
                "inbound_interval": 3600,
            }
        )
        async with serving(create_app(steady)) as client:
            yield client

    @pytest.mark.parametrize("key", [None, "form-44"])
    async def test_a_create_and_its_audit_record_are_one_statement(
        self, steady_client: httpx.AsyncClient, backend: str, key: str | None
    ) -> None:
        # With a key too: storing the answer must not flush the new rows on their own.
        client = steady_client
        headers = {**ALICE, **({"Idempotency-Key": key} if key else {})}
        engine = app_sessions(client).engine
        await client.post("/v1/tickets", json=BODY, headers=ALICE)  # see `steady_client`
        with statements_sent(engine) as sent:
            if backend == "postgresql":
                async with transaction_control_sent(engine) as control:
                    response = await client.post("/v1/tickets", json=BODY, headers=headers)
            else:
                response = await client.post("/v1/tickets", json=BODY, headers=headers)
        assert response.status_code == 201
        writes = [s for s, _ in sent if "INSERT INTO tickets" in s or "INSERT INTO audit" in s]

        if backend == "postgresql":
            [statement] = writes
            for table in ("tickets", "ticket_changes", "outbox", "audit_records"):
                assert f"INSERT INTO {table} " in statement
            # Without a key the create is that one statement, atomic on its own: no
            # BEGIN, no COMMIT. With one, the stored answer is a statement of its own,
            # and the two go in a transaction.
            if key is None:
                assert control == []
                assert len(sent) == 1  # its number came from a block drawn elsewhere
            else:
                # The key's claim (committed first, so that a retry in flight finds
                # it), then the create with its stored answer.
                assert [query.split()[0] for query in control] == ["BEGIN", "COMMIT"] * 2
        else:
            assert len(writes) == 2  # SQLite: the ORM's flush, then the record

    async def test_a_create_whose_statement_fails_leaves_nothing(
        self, steady_client: httpx.AsyncClient, backend: str
    ) -> None:
        # The database refuses the audit record, the last row of the create. On
        # PostgreSQL the create is one statement sent with no transaction around it:
        # the ticket, its history and its event must be gone with the record.
        client = steady_client
        engine = app_sessions(client).engine
        await client.post("/v1/tickets", json=BODY, headers=ALICE)  # see `steady_client`
        before = await _row_counts(engine)
        assert before["tickets"] == 1
        refuse, allow = _REFUSE_AUDIT_RECORDS[backend]
        async with engine.begin() as connection:
            for statement in refuse:
                await connection.exec_driver_sql(statement)
        try:
            if backend == "postgresql":
                async with transaction_control_sent(engine) as control:
                    response = await client.post("/v1/tickets", json=BODY, headers=ALICE)
                # Sent alone; the one transaction is the record of the failure, which
                # the audit middleware writes apart (and the database refuses too).
                assert [query.split()[0] for query in control] == ["BEGIN", "ROLLBACK"]
            else:
                response = await client.post("/v1/tickets", json=BODY, headers=ALICE)
        finally:
            async with engine.begin() as connection:
                for statement in allow:
                    await connection.exec_driver_sql(statement)

        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM
        assert await _row_counts(engine) == before


class TestIdempotentCreates:
    async def test_the_same_key_and_body_replays_the_first_response(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = {**ALICE, "Idempotency-Key": "form-42"}
        first = await client.post("/v1/tickets", json=BODY, headers=headers)
        again = await client.post("/v1/tickets", json=BODY, headers=headers)

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["idempotent-replayed"] == "true"
        listed = (await client.get("/v1/tickets", headers=ALICE)).json()["items"]
        assert len(listed) == 1
        assert [e.type for e in await outbox_events(client)] == ["ticket.created"]

    async def test_another_body_with_the_same_key_is_422(self, client: httpx.AsyncClient) -> None:
        headers = {**ALICE, "Idempotency-Key": "form-43"}
        await client.post("/v1/tickets", json=BODY, headers=headers)
        response = await client.post("/v1/tickets", json={"title": "Other"}, headers=headers)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == "urn:deskside:problem:idempotency-key-reused"

    async def test_keys_belong_to_their_caller(self, client: httpx.AsyncClient) -> None:
        first = await client.post(
            "/v1/tickets", json=BODY, headers={**ALICE, "Idempotency-Key": "k"}
        )
        other = await client.post("/v1/tickets", json=BODY, headers={**BOB, "Idempotency-Key": "k"})
        assert other.status_code == 201
        assert other.json()["id"] != first.json()["id"]

    async def test_a_request_still_in_flight_is_409(self, client: httpx.AsyncClient) -> None:
        headers = {**ALICE, "Idempotency-Key": "slow-1"}
        first = await client.post("/v1/tickets", json=BODY, headers=headers)
        # Make the stored key look like a request that is still being worked on.
        async with app_sessions(client).write_transaction() as session:
            key = (await session.exec(select(IdempotencyKey))).one()
            key.status_code = None
            session.add(key)

        response = await client.post("/v1/tickets", json=BODY, headers=headers)

        assert first.status_code == 201
        assert response.status_code == 409
        assert response.json()["type"] == "urn:deskside:problem:idempotency-key-in-flight"
        assert response.headers["retry-after"] == "1"

    async def test_concurrent_duplicates_create_once(self, client: httpx.AsyncClient) -> None:
        headers = {**ALICE, "Idempotency-Key": "double-click"}
        responses = await asyncio.gather(
            *(client.post("/v1/tickets", json=BODY, headers=headers) for _ in range(5))
        )
        statuses = sorted(response.status_code for response in responses)
        assert set(statuses) <= {201, 409}
        created = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(created) == 1
        listed = (await client.get("/v1/tickets", headers=ALICE)).json()["items"]
        assert len(listed) == 1

    async def test_an_abandoned_claim_is_taken_over(self, client: httpx.AsyncClient) -> None:
        fingerprint = request_fingerprint("POST /v1/tickets", TicketCreate(**BODY))
        for key, age in [("crashed", timedelta(hours=1)), ("recent", timedelta(seconds=5))]:
            async with app_sessions(client).write_transaction() as session:
                session.add(
                    IdempotencyKey(
                        owner="alice",
                        key=key,
                        operation="POST /v1/tickets",
                        request_hash=fingerprint,
                        created_at=utc_now() - age,
                    )
                )

        # A claim left by a process that died long ago no longer blocks a retry...
        taken_over = await client.post(
            "/v1/tickets", json=BODY, headers={**ALICE, "Idempotency-Key": "crashed"}
        )
        # ...while a recent one may still be in progress.
        recent = await client.post(
            "/v1/tickets", json=BODY, headers={**ALICE, "Idempotency-Key": "recent"}
        )

        assert taken_over.status_code == 201
        assert recent.status_code == 409

    async def test_a_failed_request_gives_its_key_back(self, client: httpx.AsyncClient) -> None:
        body = {**BODY, "requester": {"id": "bob"}}
        refused = await client.post(
            "/v1/tickets", json=body, headers={**ALICE, "Idempotency-Key": "oops"}
        )
        assert refused.status_code == 403
        assert await _keys(client) == []


class TestTechnologyEnrichment:
    async def test_the_ticket_keeps_the_catalog_snapshot(
        self,
        settings: TicketsSettings,
        inventory: tuple[str, Sessions],
    ) -> None:
        from deskside_tickets.app import create_app
        from tests.support.apps import serving

        url, _ = inventory
        async with serving(create_app(settings.model_copy(update={"inventory_url": url}))) as c:
            response = await c.post(
                "/v1/tickets", json={**BODY, "technology": "dropbox"}, headers=ALICE
            )
            unknown = await c.post(
                "/v1/tickets", json={**BODY, "technology": "myspace"}, headers=ALICE
            )
        assert response.status_code == 201
        ticket = response.json()
        assert ticket["enrichment"] == "done"
        assert ticket["technology"] == {
            "key": "dropbox",
            "name": "Dropbox",
            "vendor": "Dropbox, Inc.",
            "support_tier": "best_effort",
            "guide": None,
        }
        assert unknown.json()["enrichment"] == "unknown_technology"

    async def test_inventory_down_still_gives_a_reference_then_fills_in_later(
        self,
        client: httpx.AsyncClient,
        settings: TicketsSettings,
        inventory: tuple[str, Sessions],
    ) -> None:
        # `client`'s inventory URL answers nothing: the ticket is created regardless.
        response = await client.post(
            "/v1/tickets", json={**BODY, "technology": "dropbox"}, headers=ALICE
        )
        assert response.status_code == 201
        ticket = response.json()
        assert ticket["reference"] == "SD-000001"
        assert ticket["enrichment"] == "pending"
        assert ticket["technology"]["key"] == "dropbox"
        assert ticket["technology"]["name"] is None

        # Inventory is back: the background job fills the snapshot in.
        url, _ = inventory
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            directory = TechnologyDirectory(http, service_token=SERVICE_TOKEN)
            async with app_sessions(client).write_transaction() as session:
                service = TicketService(TicketRepository(session), settings, directory)
                assert await service.enrich_pending() == 1

        after = (await client.get(f"/v1/tickets/{ticket['id']}", headers=AGENT)).json()
        assert after["enrichment"] == "done"
        assert after["technology"]["name"] == "Dropbox"
        assert after["version"] == ticket["version"] + 1

    async def test_housekeeping_finds_them_in_an_index_of_pending_tickets_only(
        self, client: httpx.AsyncClient
    ) -> None:
        # Every 30 s. Planned for any value, the query walked every ticket by age.
        plan = await plan_of_query(
            app_sessions(client),
            lambda session: TicketRepository(session).pending_enrichment(50),
            "enrichment = 'pending'",
        )

        assert "ix_tickets_enrichment_pending" in plan, plan

"""Idempotency and optimistic concurrency under real concurrency, on SQLite and PostgreSQL.

Requests are sent together (`asyncio.gather`) into one tickets app, so their
transactions interleave at every await; on PostgreSQL they truly overlap.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select, update

from deskside_kit.idempotency import KEPT_FOR, IdempotencyKey
from tests.support.apps import app_sessions
from tests.support.tokens import bearer

pytestmark = pytest.mark.hard

ALICE = bearer("alice")
AGENT = bearer("agent-1", "agent")
PAIRS = 200


async def _tickets_of(client: httpx.AsyncClient, who: dict[str, str]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (
        await client.get("/v1/tickets", params={"limit": 100}, headers=who)
    ).json()["items"]
    return items


async def test_one_key_sent_20_times_at_once_makes_one_ticket(client: httpx.AsyncClient) -> None:
    headers = {**ALICE, "Idempotency-Key": "double-click-1"}
    body = {"title": "My phone cannot reach the VPN"}
    answers = await asyncio.gather(
        *(client.post("/v1/tickets", json=body, headers=headers) for _ in range(20))
    )

    statuses = Counter(a.status_code for a in answers)
    created = {a.json()["reference"] for a in answers if a.status_code == 201}
    replays = sum(a.headers.get("idempotent-replayed") == "true" for a in answers)
    tickets = await _tickets_of(client, ALICE)
    print(
        f"\nidempotency: 20 concurrent creates with one key -> {len(tickets)} ticket, "
        f"{replays} replays, {statuses[409]} answered 409"
    )
    assert len(tickets) == 1
    assert set(statuses) <= {201, 409}
    assert created == {tickets[0]["reference"]}
    # Every 201 but the first is a replay of it; the rest were told to retry.
    assert replays == statuses[201] - 1
    assert all(
        a.headers["content-type"] == "application/problem+json"
        for a in answers
        if a.status_code == 409
    )


async def test_the_same_key_with_another_body_is_422(client: httpx.AsyncClient) -> None:
    headers = {**ALICE, "Idempotency-Key": "form-7"}
    first = await client.post("/v1/tickets", json={"title": "Printer"}, headers=headers)
    other = await client.post("/v1/tickets", json={"title": "Scanner"}, headers=headers)
    assert (first.status_code, other.status_code) == (201, 422)
    assert other.json()["type"] == "urn:deskside:problem:idempotency-key-reused"
    assert len(await _tickets_of(client, ALICE)) == 1


async def test_a_key_expires_after_24_hours(client: httpx.AsyncClient) -> None:
    headers = {**ALICE, "Idempotency-Key": "daily-report"}
    first = await client.post("/v1/tickets", json={"title": "Day one"}, headers=headers)

    async def age_keys(by: timedelta) -> None:
        # The test clock: the stored key is made older, as if time had passed.
        async with app_sessions(client).write_transaction() as session:
            stored = (await session.exec(select(IdempotencyKey))).one()
            await session.exec(
                update(IdempotencyKey).values(created_at=stored.created_at - by)  # type: ignore[call-overload]
            )

    await age_keys(KEPT_FOR - timedelta(minutes=1))
    replay = await client.post("/v1/tickets", json={"title": "Day one"}, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"

    await age_keys(timedelta(minutes=2))
    fresh = await client.post("/v1/tickets", json={"title": "Day two"}, headers=headers)
    assert fresh.status_code == 201
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["reference"] != first.json()["reference"]
    assert len(await _tickets_of(client, ALICE)) == 2


async def test_200_pairs_of_updates_with_one_if_match_give_one_winner_each(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/tickets", json={"title": "Contested"}, headers=ALICE)
    ticket_id = created.json()["id"]
    version = created.json()["version"]
    outcomes: Counter[tuple[int, ...]] = Counter()
    winners: list[str] = []
    for pair in range(PAIRS):
        titles = [f"pair {pair} from A", f"pair {pair} from B"]
        answers = await asyncio.gather(
            *(
                client.patch(
                    f"/v1/tickets/{ticket_id}",
                    json={"title": title},
                    headers={**AGENT, "If-Match": f'"{version}"'},
                )
                for title in titles
            )
        )
        outcomes[tuple(sorted(a.status_code for a in answers))] += 1
        (winner,) = [a for a in answers if a.status_code == 200] or [None]
        if winner is None:
            break
        winners.append(winner.json()["title"])
        version = winner.json()["version"]

    final = (await client.get(f"/v1/tickets/{ticket_id}", headers=AGENT)).json()
    print(f"\noptimistic concurrency: {PAIRS} pairs -> {dict(outcomes)}")
    assert outcomes == Counter({(200, 412): PAIRS})
    # No lost update: the ticket holds the last winner's change, at the version it was given.
    assert final["title"] == winners[-1]
    assert final["version"] == version

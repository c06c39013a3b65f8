"""Object-level access (OWASP API1): three people, every ticket route, each other's tickets.

Driven by the tickets authorization matrix (`tests/tickets/test_access.py`):
every route whose `other` cell is 404 is an object route, and is probed by
each of Alice, Bob and Carol on every ticket of the other two, with the body
an authorised caller would send. Each answer must be the 404 a missing ticket
gets, identical but for the reference and the request id; and before the
probing, each person's own ticket answers them, so every probe could succeed.
The matrix test itself fails when a route has no row.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.access import comparable
from tests.support.tokens import bearer
from tests.tickets.test_access import BODIES, MATRIX, MISSING_REF, TICKET, Row

pytestmark = pytest.mark.hard


@pytest.fixture
def backend() -> str:
    # Who may reach what does not depend on the database; PostgreSQL is production's.
    # (Each service's own access matrix runs on both, in tests/<service>/test_access.py.)
    return "postgresql"


PEOPLE = {name: bearer(name, email=f"{name}@example.com") for name in ("alice", "bob", "carol")}
DESK = bearer("agnes", "agent")
TICKETS_EACH = 7

OBJECT_ROUTES = [row for row in MATRIX if row.path.startswith(TICKET) and row.other == 404]


async def _made(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.is_success, response.text
    return response.json()


async def _tickets_of(client: httpx.AsyncClient, person: str) -> list[dict[str, str]]:
    """`TICKETS_EACH` tickets of `person`, each with an interaction, an escalation and a watcher."""
    made = []
    for number in range(TICKETS_EACH):
        ticket = await _made(
            client, "/v1/tickets", {"title": f"{person}'s problem #{number}"}, PEOPLE[person]
        )
        base = f"/v1/tickets/{ticket['reference']}"
        interaction = await _made(client, f"{base}/interactions", {"kind": "advice"}, DESK)
        escalation = await _made(
            client, f"{base}/escalations", {"vendor": "Dropbox, Inc.", "request": "support"}, DESK
        )
        await _made(client, f"{base}/watchers", {"id": f"{person}-boss"}, DESK)
        made.append(
            {
                "ticket_ref": ticket["reference"],
                "interaction_id": interaction["id"],
                "escalation_id": escalation["id"],
                "person_id": f"{person}-boss",
            }
        )
    return made


def _body(row: Row, prober_ticket: str) -> Any:
    tail = row.path.removeprefix(TICKET)
    if tail == "/links":
        return {"ticket": prober_ticket}
    if tail == "/merge":
        return {"into": prober_ticket}
    return BODIES.get(row.route)


async def test_no_one_reaches_anyone_elses_ticket(client: httpx.AsyncClient) -> None:
    assert len(OBJECT_ROUTES) >= 25
    owned = {person: await _tickets_of(client, person) for person in PEOPLE}

    # Each person reads their own: the probes below are refused for whose ticket it is.
    for person, tickets in owned.items():
        for ticket in tickets:
            mine = await client.get(f"/v1/tickets/{ticket['ticket_ref']}", headers=PEOPLE[person])
            assert mine.status_code == 200

    probes, reached, unlike_missing = 0, [], []
    for prober, headers in PEOPLE.items():
        own_ref = owned[prober][0]["ticket_ref"]
        for owner, tickets in owned.items():
            if owner == prober:
                continue
            for ticket in tickets:
                for row in OBJECT_ROUTES:
                    path = row.path.format(**ticket)
                    body = _body(row, own_ref)
                    answer = await client.request(row.method, path, json=body, headers=headers)
                    probes += 1
                    if answer.status_code != 404:
                        reached.append(f"{prober} {row.method} {path}: {answer.status_code}")
                        continue
                    missing = path.replace(ticket["ticket_ref"], MISSING_REF, 1)
                    like = await client.request(row.method, missing, json=body, headers=headers)
                    same = (
                        like.status_code == 404
                        and like.headers["content-type"] == answer.headers["content-type"]
                        and comparable(like, MISSING_REF)
                        == comparable(answer, ticket["ticket_ref"])
                    )
                    if not same:
                        unlike_missing.append(f"{prober} {row.method} {path}")

    print(
        f"\nobject-level access: {len(PEOPLE)} people x {len(OBJECT_ROUTES)} routes -> "
        f"{probes} cross-person probes, {len(reached)} succeeded, "
        f"{len(unlike_missing)} told apart from a missing ticket"
    )
    assert reached == []
    assert unlike_missing == []
    assert probes >= 1000

    # Nothing the probes sent changed anyone's ticket.
    for person, tickets in owned.items():
        for ticket in tickets:
            history = await client.get(
                f"/v1/tickets/{ticket['ticket_ref']}/history", headers=PEOPLE[person]
            )
            authors = {entry["actor"] for entry in history.json()["items"]}
            assert person in authors
            assert authors <= {person, "agnes"}, authors

"""The authorization matrix of the tickets service: who gets which status from every route.

`MATRIX` is the table: one row per route (HTTP method and path template), one
column per kind of caller, each cell the status that caller gets:

- `own`: Alice, a requester, on a ticket she opened herself;
- `other`: Bob, another requester, on Alice's ticket;
- `agent` and `admin`: the desk, on Alice's ticket;
- `integ`: a token with only the `integration` role that did not open the ticket;
- `anon`: no token at all, which is always 401.

Routes without a ticket in their path (the ticket list, SLA policies, agents,
groups, reports) have no owner: there `own` and `other` are simply Alice and Bob.

The cells follow the product's rules: requesters see and act on only their own
tickets (and those they watch), and someone else's ticket answers 404 exactly
like a missing one; agents see every ticket; admins also manage SLA policies,
groups and agents; integrations get only what their roles allow. Where the code
disagrees, the cell still says what the rules say and `GAPS` names the cell and
what the code does instead: its route's test is then a strict expected failure,
so the gap stays visible and fixing the code makes the suite say so.

`test_every_route_is_in_the_matrix` fails when a route is added without a row.
`test_each_caller_gets_the_status_of_its_cell` takes one route and calls it as
each kind of caller in turn; before each call it opens a fresh ticket of
Alice's and makes what the route needs (an interaction, an escalation, a
watcher, a resolved ticket for `close`, `reopen` and `satisfaction`, an SLA
policy, a group or an agent) so that the call is valid for an authorised caller
and the only thing that varies is who calls. One test per route, not per cell,
keeps the app and database set-up to 47 x 2 backends.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from tests.support.access import CALLERS, Row, comparable
from tests.tickets.conftest import (
    ADMIN,
    ALICE,
    MAILER_SECRET,
    MONITOR_SECRET,
    open_ticket,
    signed,
)

R = Row  # short, to keep the table's rows on one line each

# fmt: off
MATRIX = [
    # method and path                                               own other agent admin integ anon
    R("POST /v1/tickets",                                             201, 201, 201, 201, 201, 401),
    R("GET /v1/tickets",                                              200, 200, 200, 200, 200, 401),
    R("GET /v1/tickets/{ticket_ref}",                                 200, 404, 200, 200, 404, 401),
    R("PATCH /v1/tickets/{ticket_ref}",                               200, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/assign",                         403, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/start",                          403, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/wait",                           403, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/resolve",                        403, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/close",                          200, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/reopen",                         200, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/comments",                       201, 404, 201, 201, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/comments",                        200, 404, 200, 200, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/history",                         200, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/interactions",                   403, 404, 201, 201, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/interactions",                    200, 404, 200, 200, 404, 401),
    R("PATCH /v1/tickets/{ticket_ref}/interactions/{interaction_id}", 403, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/watchers",                       201, 404, 201, 201, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/watchers",                        200, 404, 200, 200, 404, 401),
    R("DELETE /v1/tickets/{ticket_ref}/watchers/{person_id}",         204, 404, 204, 204, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/links",                          403, 404, 200, 200, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/links",                           200, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/merge",                          403, 404, 200, 200, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/satisfaction",                   200, 404, 403, 403, 404, 401),
    R("POST /v1/tickets/{ticket_ref}/escalations",                    403, 404, 201, 201, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/escalations",                     403, 404, 200, 200, 404, 401),
    R("PATCH /v1/tickets/{ticket_ref}/escalations/{escalation_id}",   403, 404, 200, 200, 404, 401),
    R("GET /v1/tickets/{ticket_ref}/suggested-assignees",             403, 404, 200, 200, 404, 401),
    R("GET /v1/sla-policies",                                         403, 403, 200, 200, 403, 401),
    R("POST /v1/sla-policies",                                        403, 403, 403, 201, 403, 401),
    R("GET /v1/sla-policies/{policy_id}",                             403, 403, 200, 200, 403, 401),
    R("PATCH /v1/sla-policies/{policy_id}",                           403, 403, 403, 200, 403, 401),
    R("DELETE /v1/sla-policies/{policy_id}",                          403, 403, 403, 204, 403, 401),
    R("GET /v1/agents",                                               403, 403, 200, 200, 403, 401),
    R("GET /v1/agents/{agent_id}",                                    403, 403, 200, 200, 403, 401),
    R("PUT /v1/agents/{agent_id}",                                    403, 403, 403, 201, 403, 401),
    R("GET /v1/groups",                                               403, 403, 200, 200, 403, 401),
    R("POST /v1/groups",                                              403, 403, 403, 201, 403, 401),
    R("GET /v1/groups/{group_id}",                                    403, 403, 200, 200, 403, 401),
    R("PATCH /v1/groups/{group_id}",                                  403, 403, 403, 200, 403, 401),
    R("DELETE /v1/groups/{group_id}",                                 403, 403, 403, 204, 403, 401),
    R("GET /v1/reports/tickets/productivity",                         403, 403, 200, 200, 403, 401),
    R("GET /v1/reports/tickets/summary",                              403, 403, 200, 200, 403, 401),
    R("GET /v1/reports/tickets/skills",                               403, 403, 200, 200, 403, 401),
    # Inbound hooks take a Standard Webhooks signature, never a bearer token (see INBOUND).
    R("POST /v1/inbound/email",                                       401, 401, 401, 401, 401, 401),
    R("POST /v1/inbound/alerts",                                      401, 401, 401, 401, 401, 401),
    R("GET /v1/inbound/email/{inbound_id}",                           403, 403, 200, 200, 403, 401),
    R("GET /v1/inbound/alerts/{inbound_id}",                          403, 403, 200, 200, 403, 401),
    R("GET /v1/audit/tickets",                                        403, 403, 403, 200, 403, 401),
]
# fmt: on


@pytest.fixture
def backend() -> str:
    # SQLite here; the attack battery runs this matrix on PostgreSQL
    # (tests/hard/test_function_access.py), so each database sees it once.
    return "sqlite"


# Cells where the code contradicts the product's rules: (route, caller) -> what it does instead.
# Each makes its route's test a strict expected failure (see `_rows`).
GAPS: dict[tuple[str, str], str] = {}

TICKET = "/v1/tickets/{ticket_ref}"
MISSING_REF = "SD-999999"
TARGETS = {
    priority: {"first_response_minutes": 60 * n, "resolution_minutes": 480 * n}
    for n, priority in enumerate(("p1", "p2", "p3", "p4"), start=1)
}
# Minimal valid bodies of the routes that take one; `arrange` gives the others theirs
# (links and merges name a second ticket, new policies and groups a unique name).
BODIES: dict[str, Any] = {
    "POST /v1/tickets": {"title": "The printer jams"},
    f"PATCH {TICKET}": {"title": "Dropbox stopped syncing on the iPad"},
    f"POST {TICKET}/assign": {"assignee_id": "agnes"},
    f"POST {TICKET}/wait": {"on": "requester"},
    f"POST {TICKET}/resolve": {"resolution": "Relinked the account."},
    f"POST {TICKET}/close": {"reason": "Works again."},
    f"POST {TICKET}/reopen": {"reason": "It stopped again."},
    f"POST {TICKET}/comments": {"body": "Any news?"},
    f"POST {TICKET}/interactions": {"kind": "phone_call", "duration_minutes": 5},
    f"PATCH {TICKET}/interactions/{{interaction_id}}": {"notes": "Called back."},
    f"POST {TICKET}/watchers": {"id": "dave", "email": "dave@example.com"},
    f"POST {TICKET}/satisfaction": {"rating": 5},
    f"POST {TICKET}/escalations": {"to_tier": 2, "reason": "Needs logs.", "fault_domain": "app"},
    f"PATCH {TICKET}/escalations/{{escalation_id}}": {"vendor_case_ref": "DBX-42"},
    "PATCH /v1/sla-policies/{policy_id}": {"name": "Platinum"},
    "PUT /v1/agents/{agent_id}": {"name": "Ann Agent", "tier": 2},
    "PATCH /v1/groups/{group_id}": {"name": "Networks"},
    "POST /v1/inbound/email": {
        "from": "alice@example.com",
        "subject": "Printer",
        "text": "It jams.",
        "message_id": "<printer@example.com>",
    },
    "POST /v1/inbound/alerts": {"fingerprint": "disk-full", "title": "Disk full"},
}
# Hooks authenticated by a Standard Webhooks signature alone, like inventory's check-ins:
# every token gets 401 there, and the row's test also checks a signed call is accepted.
INBOUND = frozenset({"POST /v1/inbound/email", "POST /v1/inbound/alerts"})


class AuthorizationGap(AssertionError):
    """A cell named in `GAPS` answered as the code does, not as the product's rules say."""


def _unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


async def _made(client: httpx.AsyncClient, method: str, path: str, body: Any) -> Any:
    """Make something as the desk (an admin may do all an agent may): its JSON."""
    response = await client.request(method, path, json=body, headers=ADMIN)
    assert response.is_success, response.text
    return response.json()


async def arrange(client: httpx.AsyncClient, row: Row) -> tuple[str, Any]:
    """Make what `row`'s route needs, afresh; return its concrete path and a minimal body."""
    params: dict[str, str] = {}
    body = BODIES.get(row.route)
    tail = row.path.removeprefix(TICKET)
    if row.path.startswith(TICKET):
        ticket = await open_ticket(client, ALICE)
        params["ticket_ref"] = ticket["reference"]
        base = TICKET.format(**params)
        if tail in ("/close", "/reopen", "/satisfaction"):
            await _made(client, "POST", f"{base}/resolve", {"resolution": "Relinked."})
        if tail in ("/links", "/merge"):
            other = (await open_ticket(client, ALICE, title="Dropbox again"))["reference"]
            body = {"ticket": other} if tail == "/links" else {"into": other}
        if tail == "/interactions/{interaction_id}":
            made = await _made(client, "POST", f"{base}/interactions", {"kind": "advice"})
            params["interaction_id"] = made["id"]
        if tail == "/escalations/{escalation_id}":
            vendor = {"vendor": "Dropbox, Inc.", "request": "support"}
            made = await _made(client, "POST", f"{base}/escalations", vendor)
            params["escalation_id"] = made["id"]
        if tail == "/watchers/{person_id}":
            await _made(client, "POST", f"{base}/watchers", {"id": "carol"})
            params["person_id"] = "carol"
    elif row.path.startswith("/v1/sla-policies"):
        policy = {"name": _unique("Policy"), "targets": TARGETS}
        if row.method == "POST":
            body = policy
        else:
            params["policy_id"] = (await _made(client, "POST", "/v1/sla-policies", policy))["id"]
    elif row.path.startswith("/v1/groups"):
        # Tier 3: new tickets start at tier 1, so none is routed to it and it can be deleted.
        group = {"name": _unique("Group"), "tier": 3}
        if row.method == "POST":
            body = group
        else:
            params["group_id"] = (await _made(client, "POST", "/v1/groups", group))["id"]
    elif row.path.startswith("/v1/inbound/") and row.method == "GET":
        kind = row.path.split("/")[3]
        stored = BODIES[f"POST /v1/inbound/{kind}"]
        made = await _signed_post(client, f"/v1/inbound/{kind}", stored)
        params["inbound_id"] = made["id"]
    elif row.path == "/v1/agents/{agent_id}":
        params["agent_id"] = agent = _unique("agent").replace(" ", "-")
        if row.method == "GET":  # PUT makes a new one
            await _made(client, "PUT", f"/v1/agents/{agent}", {"name": "Ann Agent"})
    return row.path.format(**params), body


async def _signed_post(client: httpx.AsyncClient, path: str, body: Any) -> Any:
    # A fresh Message-ID each time, so each arrangement stores a message of its own.
    if "message_id" in body:
        body = {**body, "message_id": f"<{uuid.uuid4().hex}@example.com>"}
    raw = json.dumps(body).encode()
    secret = MAILER_SECRET if path.endswith("/email") else MONITOR_SECRET
    response = await client.post(
        path, content=raw, headers=signed(raw, uuid.uuid4().hex, secret=secret)
    )
    assert response.status_code == 202, response.text
    return response.json()


def _rows() -> list[Any]:
    params = []
    for row in MATRIX:
        gaps = [
            f"{caller}: {GAPS[row.route, caller]}"
            for caller in CALLERS
            if (row.route, caller) in GAPS
        ]
        marks = (
            [pytest.mark.xfail(raises=AuthorizationGap, strict=True, reason="; ".join(gaps))]
            if gaps
            else []
        )
        params.append(pytest.param(row, id=row.route, marks=marks))
    return params


async def test_every_route_is_in_the_matrix(settings: TicketsSettings) -> None:
    app = create_app(settings)
    served = {
        f"{method} {context.path}"
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and (context.path or "").startswith("/v1")
        for method in context.methods or ()
    }
    listed = [row.route for row in MATRIX]

    assert len(listed) == len(set(listed)), "a route has two rows"
    assert served - set(listed) == set(), "routes without a row in MATRIX"
    assert set(listed) - served == set(), "rows of routes the app does not serve"
    assert {route for route, _ in GAPS} <= served
    assert {caller for _, caller in GAPS} <= CALLERS.keys()


@pytest.mark.parametrize("row", _rows())
async def test_each_caller_gets_the_status_of_its_cell(client: httpx.AsyncClient, row: Row) -> None:
    answered: dict[str, int] = {}
    for caller, headers in CALLERS.items():
        path, body = await arrange(client, row)
        response = await client.request(row.method, path, json=body, headers=headers)
        answered[caller] = response.status_code
        if response.status_code == 404 and row.path.startswith(TICKET):
            # Someone else's ticket answers exactly like one that does not exist.
            ref = path.split("/")[3]
            missing = path.replace(ref, MISSING_REF, 1)
            like = await client.request(row.method, missing, json=body, headers=headers)
            assert (like.status_code, comparable(like, MISSING_REF)) == (
                404,
                comparable(response, ref),
            ), f"{caller}: {row.route} on someone else's ticket"

    expected = {caller: getattr(row, caller) for caller in CALLERS}
    wrong = {
        caller: f"expected {expected[caller]}, got {status}"
        for caller, status in answered.items()
        if status != expected[caller]
    }
    assert {c: w for c, w in wrong.items() if (row.route, c) not in GAPS} == {}, row.route
    if wrong:
        raise AuthorizationGap(f"{row.route}: {wrong}")
    if row.route in INBOUND:
        # Refused to every token alike, yet open to the signature: the row tests both.
        made = await _signed_post(client, row.path, BODIES[row.route])
        assert made["duplicate"] is False

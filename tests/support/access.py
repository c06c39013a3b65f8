"""Authorization matrices: one row per route, one status per kind of caller.

A service's `test_access.py` lists its rows and an `arrange` that makes, afresh
before each call, what the route needs (an object of Alice's, a valid body),
so that only the caller varies. The kinds of caller:

- `own`: Alice, a requester, on an object of her own;
- `other`: Bob, another requester, on Alice's object;
- `agent` and `admin`: the desk;
- `integ`: a token with only the `integration` role that made nothing;
- `anon`: no token at all.

Someone else's object must answer exactly as a missing one does: whenever a
call on an arranged object answers 404, the same call on a missing id is made
and the two answers compared, but for the id and the request id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from deskside_kit.ids import new_id
from tests.support.tokens import bearer

CALLERS: dict[str, dict[str, str]] = {
    "own": bearer("alice", email="alice@example.com"),
    "other": bearer("bob", email="bob@example.com"),
    "agent": bearer("agnes", "agent", email="agnes@example.com"),
    "admin": bearer("root", "admin", email="root@example.com"),
    "integ": bearer("sync-bot", "integration"),
    "anon": {},
}


@dataclass(frozen=True)
class Row:
    route: str  # "METHOD /path/{template}"
    own: int
    other: int
    agent: int
    admin: int
    integ: int
    anon: int

    @property
    def method(self) -> str:
        return self.route.split(" ")[0]

    @property
    def path(self) -> str:
        return self.route.split(" ")[1]

    def expected(self, caller: str) -> int:
        status: int = getattr(self, caller)
        return status


@dataclass(frozen=True)
class Arranged:
    """A concrete call: its path, its body, and the id in the path that names the object."""

    path: str
    body: Any = None
    object_id: str | None = None


Arrange = Callable[[httpx.AsyncClient, Row], Awaitable[Arranged]]


def served_routes(app: FastAPI, prefixes: tuple[str, ...] = ("/v1", "/internal")) -> set[str]:
    """Every "METHOD /path" the app serves under `prefixes`."""
    return {
        f"{method} {context.path}"
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and (context.path or "").startswith(prefixes)
        for method in context.methods or ()
    }


def check_matrix_covers(app: FastAPI, matrix: list[Row]) -> None:
    served = served_routes(app)
    listed = [row.route for row in matrix]
    assert len(listed) == len(set(listed)), "a route has two rows"
    assert served - set(listed) == set(), "routes without a row in the matrix"
    assert set(listed) - served == set(), "rows of routes the app does not serve"


def comparable(response: httpx.Response, object_id: str) -> dict[str, Any]:
    """The problem a response holds, without the object's id and the request id."""
    problem: dict[str, Any] = response.json()
    problem.pop("request_id", None)
    return {
        key: value.replace(object_id, "ID") if isinstance(value, str) else value
        for key, value in problem.items()
    }


async def mismatches(client: httpx.AsyncClient, row: Row, arrange: Arrange) -> dict[str, str]:
    """Call `row`'s route as each kind of caller; what differs from the row, by caller."""
    wrong: dict[str, str] = {}
    for caller, headers in CALLERS.items():
        call = await arrange(client, row)
        response = await client.request(row.method, call.path, json=call.body, headers=headers)
        if response.status_code != row.expected(caller):
            wrong[caller] = f"expected {row.expected(caller)}, got {response.status_code}"
            continue
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", row.route
        if response.status_code == 404 and call.object_id is not None:
            # A fresh id of the same kind (`dev_…`, `whk_…`) that names nothing.
            missing_id = new_id(call.object_id.split("_", 1)[0])
            missing = call.path.replace(call.object_id, missing_id, 1)
            like = await client.request(row.method, missing, json=call.body, headers=headers)
            if (like.status_code, comparable(like, missing_id)) != (
                404,
                comparable(response, call.object_id),
            ):
                wrong[caller] = "someone else's object answers unlike a missing one"
    return wrong

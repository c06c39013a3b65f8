"""Errors: no answer leaks a stack trace, SQL or a file path.

Every in-process answer in the suite passes through `tests.support.leaks`
(see its tally at the end of a run). Here: the checker itself can fail, and
a crash deep inside a service with all three in its message answers only the
generic 500 problem.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from tests.hard import parts
from tests.support.apps import serving
from tests.support.leaks import check_answer, leaks_in, sent_texts

pytestmark = pytest.mark.hard

NASTY = (
    'Traceback (most recent call last):\n  File "/work/main/.venv/lib/python3.11/'
    'site-packages/sqlalchemy/engine/base.py", line 1967, in _exec\n'
    "sqlite3.OperationalError: SELECT id FROM tickets WHERE reference = 'SD-1'"
)


def test_the_checker_recognises_each_kind_of_leak() -> None:
    assert leaks_in(NASTY) == ["stack trace", "SQL", "file path"]
    assert leaks_in('{"title": "Please select the insert key", "detail": "update from IT"}') == []


def test_the_clients_own_input_quoted_back_is_no_leak() -> None:
    ref = "UPDATE outbox SET sent_at = now()"
    url = f"http://testserver/v1/tickets/{quote(ref)}/comments"
    answer = json.dumps(
        {
            "detail": f"No ticket {ref!r} that you can see.",
            "instance": f"/v1/tickets/{ref}/comments",
        }
    )
    assert leaks_in(answer) == ["SQL"]
    assert leaks_in(answer, echoing=sent_texts(url, None)) == []
    # What the server adds of its own is still found.
    leaky = f"{answer} {NASTY}"
    assert leaks_in(leaky, echoing=sent_texts(url, b'{"body": "x"}')) == [
        "stack trace",
        "SQL",
        "file path",
    ]


async def test_a_crash_answers_the_generic_problem_only(tmp_path: Path) -> None:
    app = parts.tickets(tmp_path)

    @app.get("/v1/tickets-crash")
    async def crash() -> None:
        raise OperationalError(NASTY, {"reference": "SD-1"}, Exception(NASTY))

    async with serving(app) as client:
        try:
            response = await client.get("/v1/tickets-crash")
        except AssertionError as leak:  # the response hook found one
            pytest.fail(str(leak))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert leaks_in(response.text) == []
    assert set(response.json()) <= {"type", "title", "status", "detail", "instance", "request_id"}
    detail = response.json()["detail"]
    print(f"\nerrors: a crash with a trace, SQL and paths in it answered {detail!r}")


def test_an_answer_that_leaks_fails_the_test() -> None:
    request = httpx.Request("GET", "http://testserver/v1/x")
    leaky = httpx.Response(500, text=NASTY, request=request)
    with pytest.raises(AssertionError, match="leaks"):
        asyncio.run(check_answer(leaky))

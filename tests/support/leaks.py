"""No answer may leak how Deskside is built: a stack trace, SQL, or a file path.

Every client `tests.support.apps.serving` makes checks each answer it receives
with `check_answer`, so the whole suite (and the attack battery with it) fails
on a leak, and the session ends by saying how many answers were checked.
"""

from __future__ import annotations

import re

import httpx

# What a leak looks like: Python's traceback, a driver or SQL statement, a path
# on the server. Case matters: a ticket may well say "select" or "insert".
_LEAK_PATTERNS = {
    "stack trace": re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
    "SQL": re.compile(
        r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b .*\b(FROM|VALUES|SET|WHERE)\b"
        r"|sqlalchemy|asyncpg|aiosqlite|sqlite3\.|psycopg"
    ),
    "file path": re.compile(
        r"(/usr/lib/python|/site-packages/|\.venv/|/work/main/|\.py\b\", line)"
    ),
}

checked = 0


def leaks_in(text: str) -> list[str]:
    return [kind for kind, pattern in _LEAK_PATTERNS.items() if pattern.search(text)]


async def check_answer(response: httpx.Response) -> None:
    """httpx response hook: fail the test at once if the answer leaks."""
    global checked
    await response.aread()
    checked += 1
    found = leaks_in(response.text)
    assert not found, (
        f"{response.request.method} {response.request.url} leaks {found}: {response.text[:500]}"
    )

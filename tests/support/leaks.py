"""No answer may leak how Deskside is built: a stack trace, SQL, or a file path.

Every client `tests.support.apps.serving` makes checks each answer it receives
with `check_answer`, so the whole suite (and the attack battery with it) fails
on a leak, and the session ends by saying how many answers were checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

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
# An echo shorter than this is left in: it could as well be part of a real leak.
_ECHO_AT_LEAST = 8


def leaks_in(text: str, *, echoing: Iterable[str] = ()) -> list[str]:
    """The kinds of leak in `text`.

    An answer may quote what the client sent ("No ticket '…' that you can see"),
    and a fuzzer's input can look like SQL: Hypothesis mixes string constants of
    the code under test into what it generates. Each text in `echoing` is taken
    out first, in the forms an answer carries it (as sent, quoted by `repr`,
    escaped in JSON), so only what the server itself says is judged.
    """
    for sent in echoing:
        if len(sent) < _ECHO_AT_LEAST:
            continue  # too short to be anything but noise, and to take out safely
        for form in (json.dumps(repr(sent))[1:-1], json.dumps(sent)[1:-1], repr(sent), sent):
            text = text.replace(form, "")
    return [kind for kind, pattern in _LEAK_PATTERNS.items() if pattern.search(text)]


def sent_texts(url: str, body: bytes | str | None) -> list[str]:
    """The texts a request carried: its path's segments, its query's values, its body's strings."""
    parts = urlsplit(url)
    texts = [unquote(segment) for segment in parts.path.split("/")]
    texts += [value for _, value in parse_qsl(parts.query)]
    if body:
        try:
            texts += list(_strings(json.loads(body)))
        except ValueError:
            texts.append(body.decode(errors="replace") if isinstance(body, bytes) else body)
    return texts


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


async def check_answer(response: httpx.Response) -> None:
    """httpx response hook: fail the test at once if the answer leaks."""
    global checked
    await response.aread()
    checked += 1
    found = leaks_in(response.text)
    assert not found, (
        f"{response.request.method} {response.request.url} leaks {found}: {response.text[:500]}"
    )

"""API4, resource limits: a body over the limit is 413 however it is sent, on every part.

Real HTTP on loopback (uvicorn), raw sockets, so the framing is exactly what
an attacker chooses: an honest `Content-Length`, a chunked body that never
declares its size, and a `Content-Length` that promises more than ever comes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from deskside_kit.limits import DEFAULT_MAX_BODY_BYTES, MIB
from tests.hard import parts
from tests.support.servers import serving_over_http
from tests.support.tokens import bearer

pytestmark = pytest.mark.hard

TOKEN = bearer("alice", "agent")["Authorization"]
OVER = DEFAULT_MAX_BODY_BYTES + 1

PARTS: dict[str, tuple[Callable[[Path], FastAPI], str]] = {
    "tickets": (parts.tickets, "/v1/tickets"),
    "inventory": (parts.inventory, "/v1/devices"),
    "notify": (parts.notify, "/v1/webhooks"),
    "gateway": (parts.gateway, "/v1/tickets"),
}


@pytest.fixture(params=list(PARTS))
async def part(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    factory, path = PARTS[request.param]
    async with serving_over_http(factory(tmp_path), lifespan="on") as url:
        yield url.removeprefix("http://"), path


async def _exchange(
    address: str, head: str, body_chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """Send a request as given; return the status, headers and body of the answer."""
    host, port = address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode())
        for chunk in body_chunks:
            writer.write(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (ConnectionError, TimeoutError):
                break  # refused before we finished sending: exactly what is wanted
        raw = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, payload


def _head(path: str, framing: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: deskside\r\nConnection: close\r\n"
        f"Authorization: {TOKEN}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n"
    )


def _chunked(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    pieces = [
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    ]
    return [*pieces, b"0\r\n\r\n"]


def _assert_413(status: int, headers: dict[str, str], payload: bytes) -> None:
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(payload)
    assert problem["status"] == 413
    assert problem["limit_bytes"] == DEFAULT_MAX_BODY_BYTES


async def test_every_way_of_sending_too_much_is_413(part: tuple[str, str]) -> None:
    address, path = part
    too_much = b'{"title": "' + b"x" * OVER + b'"}'
    cases = {
        "content-length": (f"Content-Length: {len(too_much)}\r\n", [too_much]),
        "chunked": ("Transfer-Encoding: chunked\r\n", _chunked(too_much)),
        # Promises 5 MiB, sends 10 bytes and waits: refused on the promise alone.
        "lying length": (f"Content-Length: {5 * MIB}\r\n", [b'{"title":"']),
    }
    refused = 0
    for framing, chunks in cases.values():
        status, headers, payload = await _exchange(address, _head(path, framing), chunks)
        _assert_413(status, headers, payload)
        refused += 1

    print(f"\nbody limits [{path}]: {refused}/{len(cases)} oversized bodies answered 413")
    assert refused == len(cases)


async def test_a_body_within_the_limit_is_not_refused(part: tuple[str, str]) -> None:
    address, path = part
    # Just under the limit, and invalid: whatever the part says, it is not 413.
    body = b'{"unexpected": "' + b"x" * (DEFAULT_MAX_BODY_BYTES - 100) + b'"}'
    status, _, _ = await _exchange(address, _head(path, f"Content-Length: {len(body)}\r\n"), [body])

    assert status != 413
    assert status != 500


async def test_mail_alerts_and_evidence_have_the_larger_limit(tmp_path: Path) -> None:
    async with serving_over_http(parts.tickets(tmp_path), lifespan="on") as url:
        address = url.removeprefix("http://")
        body = b'{"text": "' + b"x" * (3 * MIB) + b'"}'
        status, _, _ = await _exchange(
            address, _head("/v1/inbound/email", f"Content-Length: {len(body)}\r\n"), [body]
        )
        # Past the size check; refused for the missing signature instead.
        assert status == 401

        status, _, payload = await _exchange(
            address,
            _head("/v1/inbound/alerts", f"Content-Length: {11 * MIB}\r\n"),
            [b"{"],
        )
        assert status == 413
        assert json.loads(payload)["limit_bytes"] == 10 * MIB

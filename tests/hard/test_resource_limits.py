"""Resource limits (OWASP API4): page sizes are capped, and memory does not creep.

Body sizes are in test_body_limits.py and rate limits in tests/gateway.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_ports
from tests.support.tokens import TEST_JWT_SECRET, bearer

pytestmark = pytest.mark.hard

WARM_UP = 300
MEASURED = 5_000
ALLOWED_GROWTH_MIB = 20


async def _limited_list_operations(client: httpx.AsyncClient) -> list[tuple[str, int]]:
    """Each GET taking `limit`, with its documented maximum."""
    document = (await client.get("/openapi.json")).json()
    found = []
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["name"] == "limit" and parameter["in"] == "query":
                found.append((path, int(parameter["schema"]["maximum"])))
    return found


async def test_a_page_larger_than_the_maximum_is_422_on_every_list(
    client: httpx.AsyncClient, inventory: httpx.AsyncClient, notify: httpx.AsyncClient
) -> None:
    admin = bearer("root", "admin")
    tried, refused = 0, []
    for service in (client, inventory, notify):
        operations = await _limited_list_operations(service)
        assert operations, "every service pages its lists"
        for path, maximum in operations:
            if "{" in path:
                path = path.split("{")[0] + "SD-000001" + path.split("}")[1]
            for limit in (maximum + 1, 10**9, 0, -1, "many"):
                response = await service.get(path, params={"limit": limit}, headers=admin)
                tried += 1
                if response.status_code == 422 and "limit" in response.text:
                    refused.append(path)
            within = await service.get(path, params={"limit": maximum}, headers=admin)
            assert within.status_code != 422, f"{path}: the maximum itself is allowed"

    print(f"\npage limits: {tried} out-of-range `limit` values on list routes, {len(refused)} 422")
    assert len(refused) == tried


def _resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _traffic(base_url: str, count: int) -> None:
    """A desk's mix: opening, reading, listing, missing ids, bad input and bad tokens."""
    alice, agent = bearer("alice"), bearer("agnes", "agent")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        opened = (await http.post("/v1/tickets", json={"title": "VPN"}, headers=alice)).json()
        ref = opened["reference"]
        # Mostly reads, as a desk's traffic is; writes, refusals and bad input among them.
        requests = [
            lambda n: http.post("/v1/tickets", json={"title": f"Laptop #{n}"}, headers=alice),
            lambda n: http.get(f"/v1/tickets/{ref}", headers=alice),
            lambda n: http.get("/v1/tickets", params={"limit": 20}, headers=agent),
            lambda n: http.get(f"/v1/tickets/{ref}/history", headers=agent),
            lambda n: http.get(f"/v1/tickets/{ref}/comments", headers=alice),
            lambda n: http.get(f"/v1/tickets/SD-9{n:05}", headers=alice),
            lambda n: http.get("/v1/tickets", params={"limit": 0}, headers=agent),
            lambda n: http.get("/v1/tickets", headers={"Authorization": f"Bearer x{n}"}),
        ]
        semaphore = asyncio.Semaphore(8)

        async def one(n: int) -> None:
            async with semaphore:
                response = await requests[n % len(requests)](n)
                assert response.status_code < 500, response.text

        await asyncio.gather(*(one(n) for n in range(count)))


@pytest.mark.timeout(600)  # long by design; pytest-timeout is for hangs
async def test_memory_after_5000_requests_grows_by_less_than_20_mib(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESKSIDE_")},
        "DESKSIDE_ENV": "test",
        "DESKSIDE_VAR_DIR": str(tmp_path),
        "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
        "DESKSIDE_TICKETS_RELAY_ENABLED": "false",
        "DESKSIDE_TICKETS_INVENTORY_URL": "http://127.0.0.1:9",
        "DESKSIDE_PORT": str(port),
    }
    with (tmp_path / "tickets.log").open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "deskside_tickets",
            "serve",
            env=environment,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient() as probe:
                while True:
                    try:
                        if (await probe.get(f"{base_url}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert process.returncode is None, "tickets exited"
                    assert time.monotonic() < deadline, "tickets did not start"
                    await asyncio.sleep(0.2)

            await _traffic(base_url, WARM_UP)
            before = _resident_mib(process.pid)
            await _traffic(base_url, MEASURED)
            after = _resident_mib(process.pid)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)

    print(
        f"\nmemory: {MEASURED} requests after a warm-up of {WARM_UP}: "
        f"{before:.1f} MiB -> {after:.1f} MiB resident (+{after - before:.1f})"
    )
    assert after - before < ALLOWED_GROWTH_MIB

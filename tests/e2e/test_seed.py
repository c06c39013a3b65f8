"""`make seed` fills a freshly started embedded stack with a desk and an estate to look at."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.conftest import StartStack
from tests.support.tokens import TEST_JWT_SECRET, bearer


async def test_the_seed_leaves_noncompliance_and_shadow_it_to_find(
    start_stack: StartStack, tmp_path: Path
) -> None:
    # The embedded default: the starter catalog and the demo device-management integration.
    stack = await start_stack({"DESKSIDE_ENV": "development"})
    environment = {
        **os.environ,
        "DESKSIDE_ENV": "development",
        "DESKSIDE_VAR_DIR": str(tmp_path / "var"),
        "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
    }
    seeded = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "deskside_tickets.seed",
            "--url",
            stack.gateway_url,
            "--tickets",
            "5",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    agent = bearer("agnes", "agent")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as gateway:
        report = (await gateway.get("/v1/reports/adoption", headers=agent)).json()
        tickets = (await gateway.get("/v1/tickets", headers=agent)).json()
        sales = (await gateway.get("/v1/reports/adoption?department=sales", headers=agent)).json()

    assert len(tickets["items"]) == 5
    assert report["compliance"]["by_state"].get("noncompliant", 0) > 0
    assert sum(row["discovered_undeclared"] for row in report["technologies"]) > 0
    assert sum(row["declared_accounts"] for row in report["technologies"]) >= 18
    everyone = max(row["people"] for row in report["categories"])
    assert 0 < max(row["people"] for row in sales["categories"]) < everyone

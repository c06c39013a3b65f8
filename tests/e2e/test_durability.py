"""An acknowledged write survives the process being killed outright."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.servers import free_ports
from tests.support.tokens import TEST_JWT_SECRET, bearer


def test_a_ticket_acknowledged_on_sqlite_survives_sigkill(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    environment = {
        **os.environ,
        "DESKSIDE_ENV": "test",
        "DESKSIDE_VAR_DIR": str(tmp_path),
        "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "deskside_tickets", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        acknowledged = [
            httpx.post(
                f"{base}/v1/tickets", json={"title": f"t{n}"}, headers=bearer("alice")
            ).json()
            for n in range(5)
        ]
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    with sqlite3.connect(tmp_path / "tickets.db") as database:
        stored = {row[0] for row in database.execute("SELECT reference FROM tickets")}
    assert stored == {ticket["reference"] for ticket in acknowledged}
    assert len(stored) == 5

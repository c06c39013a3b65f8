"""Stopping cleanly: SIGTERM lets requests and background rounds finish, loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deskside_kit.background import periodically
from deskside_kit.tokens import mint_token
from tests.support.servers import free_ports


class TestBackgroundJobsStop:
    async def test_a_round_in_progress_finishes_and_no_new_one_starts(self) -> None:
        started = asyncio.Event()
        rounds: list[str] = []

        async def job() -> None:
            started.set()
            rounds.append("begun")
            await asyncio.sleep(0.3)
            rounds.append("finished")

        async with periodically("test", 0.01, job):
            await started.wait()

        await asyncio.sleep(0.1)
        assert rounds == ["begun", "finished"]

    async def test_a_round_that_outlasts_the_grace_is_cancelled(self) -> None:
        started = asyncio.Event()
        cancelled = asyncio.Event()

        async def job() -> None:
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        begun = time.monotonic()
        async with periodically("test", 0.01, job, stop_grace=0.2):
            await started.wait()

        assert cancelled.is_set()
        assert time.monotonic() - begun < 5


def _start_tickets(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESKSIDE_")},
        "DESKSIDE_VAR_DIR": str(tmp_path),
        "DESKSIDE_JWT_SECRET": "k" * 40,
        "DESKSIDE_TICKETS_RELAY_ENABLED": "false",
        "DESKSIDE_PORT": str(port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "deskside_tickets", "serve"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _healthcheck(port: int) -> int:
    return subprocess.run(
        [sys.executable, "-m", "deskside_tickets", "healthcheck"],
        env={**os.environ, "DESKSIDE_PORT": str(port)},
        capture_output=True,
        timeout=30,
        check=False,
    ).returncode


def _wait_until_ready(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while _healthcheck(port) != 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "tickets did not become ready"
        time.sleep(0.2)


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class TestSigterm:
    def test_a_request_in_flight_is_answered_and_kept(self, tmp_path: Path) -> None:
        (port,) = free_ports(1)
        process = _start_tickets(tmp_path, port)
        try:
            _wait_until_ready(process, port)
            body = json.dumps({"title": "Sent before the stop, finished after"}).encode()
            token = mint_token("k" * 40, sub="alice", roles=["requester"])
            head = (
                f"POST /v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            in_flight = socket.create_connection(("127.0.0.1", port), timeout=30)
            # Half the body now: the request has begun, so it is in flight.
            in_flight.sendall(head + body[:10])
            time.sleep(0.3)

            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _accepts_connections(port):
                assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
                time.sleep(0.05)
            assert process.poll() is None, "stopped without waiting for the request in flight"

            in_flight.sendall(body[10:])
            # The server closes the connection after this answer: it is shutting down.
            answer = b"".join(iter(lambda: in_flight.recv(65536), b"")).decode()
            in_flight.close()
            stdout, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

        assert answer.startswith("HTTP/1.1 201"), answer
        reference = json.loads(answer.split("\r\n\r\n", 1)[1])["reference"]
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert process.returncode in (0, -signal.SIGTERM)
        with sqlite3.connect(tmp_path / "tickets.db") as database:
            kept = database.execute(
                "SELECT count(*) FROM tickets WHERE reference = ?", (reference,)
            ).fetchone()
        assert kept == (1,)
        # Logs are JSON lines on stdout, which is what container runtimes collect.
        logged = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        assert logged
        assert {entry["service"] for entry in logged} == {"tickets"}
        assert any(entry.get("path") == "/v1/tickets" for entry in logged), logged
        assert "Application shutdown complete." in [entry["message"] for entry in logged]

    def test_healthcheck_fails_when_nothing_answers(self) -> None:
        (port,) = free_ports(1)

        assert _healthcheck(port) == 1


@pytest.mark.parametrize("variable", ["DESKSIDE_JWT_SECRET", "DESKSIDE_SERVICE_TOKEN"])
def test_production_refuses_the_example_secret(
    tmp_path: Path, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESKSIDE_")},
        "DESKSIDE_ENV": "production",
        "DESKSIDE_TICKETS_DATABASE_URL": "postgresql+asyncpg://db/tickets",
        "DESKSIDE_JWT_SECRET": "j" * 40,
        "DESKSIDE_SERVICE_TOKEN": "s" * 40,
        variable: "change-me-to-a-long-random-value-of-your-own",
    }
    result = subprocess.run(
        [sys.executable, "-m", "deskside_tickets", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )

    assert result.returncode != 0
    assert f"{variable} still holds the example value" in result.stderr
    assert "Traceback" not in result.stderr

"""The load generator: wrk, driven with bench/wrk/requests.lua."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    connections: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Wrk:
    executable: str
    script: Path
    # Two threads: one per core, as wrk advises; the load generator shares the machine.
    threads: int = 2

    def run(
        self,
        *,
        base: str,
        requests: list[str],
        seconds: int,
        connections: int,
        token: str | None = None,
        body: dict[str, Any] | None = None,
        timeout: int = 10,
    ) -> WrkResult:
        with tempfile.TemporaryDirectory(prefix="deskside-wrk-") as folder:
            request_file = Path(folder) / "requests"
            request_file.write_text("\n".join(requests) + "\n")
            environment = {
                **os.environ,
                "BENCH_REQUESTS": str(request_file),
                "BENCH_TOKEN": token or "",
            }
            if body is not None:
                body_file = Path(folder) / "body.json"
                body_file.write_text(json.dumps(body))
                environment["BENCH_BODY"] = str(body_file)
            completed = subprocess.run(
                [
                    self.executable,
                    f"-t{min(self.threads, connections)}",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "--timeout",
                    f"{timeout}s",
                    "-s",
                    str(self.script),
                    base,
                ],
                env=environment,
                capture_output=True,
                text=True,
                check=True,
            )
        summary = json.loads(completed.stdout.strip().splitlines()[-1])
        return WrkResult(
            requests=summary["requests"],
            seconds=summary["duration_us"] / 1e6,
            non_2xx=summary["non_2xx"],
            socket_errors=summary["socket_errors"],
            p50_ms=summary["p50_us"] / 1000,
            p90_ms=summary["p90_us"] / 1000,
            p99_ms=summary["p99_us"] / 1000,
            connections=connections,
        )

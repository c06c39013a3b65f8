"""Run the whole stack on one machine: `make run`, and the end-to-end tests.

Starts tickets, inventory and notify, waits until each is ready, then starts
the gateway in front of them. Ctrl-C (or SIGTERM) stops every process
gracefully; the children run in their own sessions so that only this
supervisor decides when they stop, and on Linux they die with it even if it
is killed outright, so nothing is left holding a port.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from deskside_kit.settings import (
    DEMO_CHECKIN_INTEGRATION,
    ServiceSettings,
    demo_checkin_secret,
    load_settings,
)


@dataclass(frozen=True)
class Part:
    name: str
    module: str
    port: int


SERVICES = (
    Part("tickets", "deskside_tickets", 8001),
    Part("inventory", "deskside_inventory", 8002),
    Part("notify", "deskside_notify", 8003),
)
GATEWAY = Part("gateway", "deskside_gateway", 8080)

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 25.0


def _part(name: str) -> Part:
    for part in (*SERVICES, GATEWAY):
        if part.name == name:
            return part
    raise ValueError(f"no part of the stack is called {name!r}")


class StackError(RuntimeError):
    """A part of the stack did not start."""


def _die_with_parent() -> None:
    # Runs in the child before exec: ask Linux to SIGTERM it when the supervisor dies.
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Stack:
    """The four processes of a Deskside stack on loopback."""

    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    log_dir: Path | None = None

    def port(self, part: Part) -> int:
        return self.ports.get(part.name, part.port)

    def url(self, part: Part) -> str:
        return f"http://{self.host}:{self.port(part)}"

    @property
    def gateway_url(self) -> str:
        return self.url(GATEWAY)

    def _environment(self) -> dict[str, str]:
        environment = {**os.environ, **self.env}
        for part in SERVICES:
            environment.setdefault(f"DESKSIDE_GATEWAY_{part.name.upper()}_URL", self.url(part))
        environment.setdefault("DESKSIDE_TICKETS_INVENTORY_URL", self.url(_part("inventory")))
        for producer in ("TICKETS", "INVENTORY"):
            environment.setdefault(f"DESKSIDE_{producer}_NOTIFY_URL", self.url(_part("notify")))
        if environment.get("DESKSIDE_ENV", "development") != "production":
            # Webhook receivers on this machine are what a developer tries first;
            # production refuses both, so they are never slipped in there.
            environment.setdefault("DESKSIDE_NOTIFY_WEBHOOK_ALLOW_HTTP", "true")
            environment.setdefault("DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE", "true")
        if environment.get("DESKSIDE_ENV", "development") == "development":
            # A device-management integration to try check-ins with (`make seed` posts some).
            var_dir = Path(environment.get("DESKSIDE_VAR_DIR", "var"))
            environment.setdefault(
                "DESKSIDE_INVENTORY_CHECKIN_SECRETS",
                json.dumps({DEMO_CHECKIN_INTEGRATION: demo_checkin_secret(var_dir)}),
            )
        return environment

    def start(self) -> None:
        environment = self._environment()
        try:
            for part in SERVICES:
                self._spawn(part, environment)
            for part in SERVICES:
                self._wait_ready(part)
            self._spawn(GATEWAY, environment)
            self._wait_ready(GATEWAY)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, part: Part, environment: dict[str, str]) -> None:
        command = [sys.executable, "-m", part.module, "serve"]
        command += ["--host", self.host, "--port", str(self.port(part))]
        # Without a log folder the children share this terminal: their JSON logs show there.
        log_file = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_file = (self.log_dir / f"{part.name}.log").open("ab")
        try:
            self.processes[part.name] = subprocess.Popen(  # noqa: S603  (fixed argv, no shell)
                command,
                env=environment,
                stdout=log_file,
                stderr=subprocess.STDOUT if log_file else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if log_file is not None:
                log_file.close()

    def _wait_ready(self, part: Part) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        process = self.processes[part.name]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"{part.name} exited with status {process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url(part)}/readyz", timeout=2):  # noqa: S310  # nosec B310
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise StackError(f"{part.name} was not ready after {READY_TIMEOUT_SECONDS:.0f} s")

    def stop_part(self, name: str) -> None:
        """Stop one process gracefully (SIGKILL if it will not), leaving the others running."""
        process = self.processes.pop(_part(name).name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def start_part(self, name: str) -> None:
        """Start one process again, with the stack's environment, and wait until it is ready."""
        part = _part(name)
        if name in self.processes and self.processes[name].poll() is None:
            raise StackError(f"{name} is already running")
        self._spawn(part, self._environment())
        try:
            self._wait_ready(part)
        except BaseException:
            self.stop_part(name)
            raise

    def stop(self) -> None:
        """SIGTERM every process (gateway first), then wait; SIGKILL what will not stop."""
        order = [GATEWAY.name, *(part.name for part in SERVICES)]
        running = [self.processes[name] for name in order if name in self.processes]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


@contextlib.contextmanager
def running_stack(**options: object) -> Iterator[Stack]:
    stack = Stack(**options)  # type: ignore[arg-type]
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Deskside stack on this machine.")
    parser.add_argument("--host", default="127.0.0.1")
    arguments = parser.parse_args()

    settings = load_settings(ServiceSettings)
    # Make the shared development key before the four processes race to.
    settings.resolved_jwt_secret()
    settings.resolved_service_token()
    stack = Stack(host=arguments.host)

    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    # SIGINT too, explicitly: a process started in the background of a script
    # inherits SIGINT ignored, and Ctrl-C must stop the stack however it started.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        print("Starting Deskside (tickets, inventory, notify, gateway)...", flush=True)
        stack.start()
        _print_welcome(stack, settings)
        while all(process.poll() is None for process in stack.processes.values()):
            time.sleep(0.5)
        failed = [name for name, p in stack.processes.items() if p.poll() is not None]
        print(f"\n{', '.join(failed)} stopped unexpectedly; stopping the stack.", flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\nStopping Deskside...", flush=True)
    except StackError as exc:
        print(f"Deskside did not start: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("Stopped.", flush=True)


def _print_welcome(stack: Stack, settings: ServiceSettings) -> None:
    var_dir = settings.var_dir.resolve()
    print(
        f"""
Deskside is running.

  Gateway        {stack.gateway_url}
  API explorer   {stack.gateway_url}/docs
  OpenAPI        {stack.gateway_url}/openapi.json
  Readiness      {stack.gateway_url}/readyz
  Services       {", ".join(f"{p.name} {stack.url(p)}" for p in SERVICES)}
  Data           {var_dir} (SQLite files and the development token key)

Get a token (in another terminal):
  make token ROLE=requester SUB=alice EMAIL=alice@example.com
  make token ROLE=agent SUB=bob EMAIL=bob@example.com

Then:
  curl -H "Authorization: Bearer $TOKEN" {stack.gateway_url}/v1/tickets

Press Ctrl-C to stop.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()

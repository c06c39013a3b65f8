"""The deployed stack: Deskside's images under compose, on a dockerd of the test's own.

Only `make deploy-test` selects these tests (`-m deploy`); `make test` leaves
them out. Where no engine can start, they are skipped with the reason, except
under `CI=true`, where that is a failure.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.deploy.engine import (
    BASE_IMAGE,
    PARTS,
    POSTGRES_IMAGE,
    REPOSITORY,
    Engine,
    EngineUnavailable,
    Timings,
    cache_folder,
    install_docker_if_missing,
    run,
)
from tests.support.servers import free_ports

HERE = Path(__file__).parent
PROJECT = "deskside-deploy-test"


@dataclass
class DeployedStack:
    engine: Engine
    compose_files: list[Path]
    environment: dict[str, str]
    ports: dict[str, int]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def compose(self, *arguments: str, timeout: float = 600) -> str:
        files = [f"--file={path}" for path in self.compose_files]
        command = [*self.engine.compose_command(), f"--project-name={PROJECT}", *files]
        result = run([*command, *arguments], env=self.environment, timeout=timeout)
        return result.stdout.decode(errors="replace")

    def render_for_compose_v1(self, folder: Path) -> None:
        """Merge the files into one that Compose v1 accepts, and use that from now on.

        Compose v2 discards the ports a host-network service publishes; v1
        refuses to start such a service. So the merged configuration, rendered
        by compose itself, loses those ports, and nothing else.
        """
        merged = yaml.safe_load(self.compose("config"))
        for service in merged["services"].values():
            if service.get("network_mode") == "host":
                service.pop("ports", None)
        rendered = folder / "compose.yaml"
        rendered.write_text(yaml.safe_dump(merged, sort_keys=False))
        self.compose_files = [rendered]

    def token(self, sub: str, *roles: str, email: str | None = None) -> dict[str, str]:
        """A bearer header, minted inside a container as deploy/README.md shows."""
        command = ["exec", "-T", "tickets", "python3", "-m", "deskside_kit.tokens", "--sub", sub]
        for role in roles:
            command += ["--role", role]
        if email:
            command += ["--email", email]
        return {"Authorization": f"Bearer {self.compose(*command).strip()}"}

    def mail_log(self) -> str:
        return self.compose("logs", "--no-color", "mailpit")

    def wait_ready(self, part: str, within: float = 120) -> None:
        url = f"http://127.0.0.1:{self.ports[part]}/readyz"
        deadline = time.monotonic() + within
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{part} not ready after {within} s"
            time.sleep(0.5)


def _engine_or_skip(timings: Timings) -> Engine:
    try:
        with timings.step("install Docker if missing"):
            install_docker_if_missing()
        engine = Engine(cache_folder())
        with timings.step("start dockerd"):
            engine.start()
    except EngineUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Docker engine in CI: {exc}")
        pytest.skip(f"no Docker engine here: {exc}")
    return engine


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    timings = Timings()
    engine = _engine_or_skip(timings)
    stack: DeployedStack | None = None
    try:
        with timings.step("base image (debootstrap bookworm minbase, Python 3.11)"):
            engine.build_base_image()
        for part in PARTS:
            with timings.step(f"image deskside-{part}"):
                engine.build(
                    f"deskside-{part}:latest",
                    REPOSITORY / "deploy" / "Dockerfile",
                    REPOSITORY,
                    PART=part,
                    BASE=BASE_IMAGE,
                )
        with timings.step("PostgreSQL stand-in image"):
            engine.build(
                POSTGRES_IMAGE, HERE / "postgres" / "Dockerfile", HERE / "postgres", BASE=BASE_IMAGE
            )
        names = ["tickets", "inventory", "notify", "gateway", "postgres", "smtp", "mail_ui"]
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        environment = {
            **engine.environment,
            "DT_TICKETS_PORT": str(ports["tickets"]),
            "DT_INVENTORY_PORT": str(ports["inventory"]),
            "DT_NOTIFY_PORT": str(ports["notify"]),
            "DT_GATEWAY_PORT": str(ports["gateway"]),
            "DESKSIDE_HTTP_PORT": str(ports["gateway"]),
            "DESKSIDE_MAIL_UI_PORT": str(ports["mail_ui"]),
            "DESKSIDE_DATABASE_HOST": "127.0.0.1",
            "DESKSIDE_DATABASE_PORT": str(ports["postgres"]),
            "DESKSIDE_SMTP_HOST": "127.0.0.1",
            "DESKSIDE_SMTP_PORT": str(ports["smtp"]),
            "DESKSIDE_TICKETS_URL": f"http://127.0.0.1:{ports['tickets']}",
            "DESKSIDE_INVENTORY_URL": f"http://127.0.0.1:{ports['inventory']}",
            "DESKSIDE_NOTIFY_URL": f"http://127.0.0.1:{ports['notify']}",
            "DESKSIDE_PUBLIC_URL": f"http://127.0.0.1:{ports['gateway']}",
        }
        stack = DeployedStack(
            engine,
            [REPOSITORY / "deploy" / "compose.yaml", HERE / "compose.host.yaml"],
            environment,
            ports,
        )
        stack.render_for_compose_v1(tmp_path_factory.mktemp("compose"))
        with timings.step("compose up (secrets, PostgreSQL, migrations, four parts)"):
            try:
                stack.compose("up", "--detach", "--no-build")
            except RuntimeError as exc:
                logs = stack.compose("logs", "--no-color", "--tail=40")
                raise RuntimeError(f"{exc}\n--- the containers' logs ---\n{logs}") from None
            stack.wait_ready("gateway")
        yield stack
    finally:
        with timings.step("compose down, stop dockerd"):
            if stack is not None:
                try:
                    stack.compose("down", "--volumes", "--timeout=60")
                finally:
                    engine.stop()
            else:
                engine.stop()
        print("\n" + timings.table(), flush=True)

"""A private Docker engine for the deploy test, and the images it runs.

The machine may have no Docker engine and no registry. So the test installs
Debian's `docker.io` and `docker-compose` when Docker is missing, starts
`dockerd` itself on a data root of its own with no bridge and no iptables
(every container uses the host's network, on loopback ports), makes a Debian
base image with debootstrap instead of pulling one, and builds Deskside's
images `FROM` it with deploy/Dockerfile.

The data root lives in a cache folder outside the checkout, so a second run
reuses the base image and the build cache; a fresh machine builds it all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

REPOSITORY = Path(__file__).resolve().parents[2]
PARTS = ("tickets", "inventory", "notify", "gateway")
BASE_IMAGE = "deskside-base:bookworm"
POSTGRES_IMAGE = "deskside-test-postgres:local"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# What the base needs: Python 3.11 with venv (deploy/Dockerfile's build stage)
# and the certificate store uv and the services use.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")


class EngineUnavailable(Exception):
    """Docker cannot run on this machine; the message says why."""


@dataclass
class Timings:
    """How long each step took, printed at the end of the run."""

    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        begun = time.monotonic()
        print(f"deploy-test: {name} ...", flush=True)
        try:
            yield
        finally:
            elapsed = time.monotonic() - begun
            self.steps.append((name, elapsed))
            print(f"deploy-test: {name}: {elapsed:.1f} s", flush=True)

    def table(self) -> str:
        rows = [f"| {name} | {seconds:.1f} s |" for name, seconds in self.steps]
        return "\n".join(["| step | time |", "|---|---|", *rows])


def run(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    input_bytes: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command, failing with its output when it fails."""
    result = subprocess.run(
        list(command),
        env=env,
        input=input_bytes,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{output}")
    return result


def cache_folder() -> Path:
    configured = os.environ.get("DESKSIDE_DEPLOY_TEST_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "deskside" / "deploy-test"


def install_docker_if_missing() -> None:
    """Debian's engine, compose and debootstrap, when any is missing."""
    wanted = {"dockerd": "docker.io", "debootstrap": "debootstrap"}
    if shutil.which("docker-compose") is None and not _has_compose_plugin():
        wanted["docker-compose"] = "docker-compose"
    missing = [package for command, package in wanted.items() if shutil.which(command) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise EngineUnavailable(f"{', '.join(missing)} missing and not root to install them")
    if shutil.which("apt-get") is None:
        raise EngineUnavailable(f"{', '.join(missing)} missing and no apt-get to install them")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=environment)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=environment)


def _has_compose_plugin() -> bool:
    docker = shutil.which("docker")
    return docker is not None and run([docker, "compose", "version"], check=False).returncode == 0


@dataclass
class Engine:
    """A dockerd of the test's own, reached through `DOCKER_HOST`."""

    root: Path
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}

    def start(self) -> None:
        if os.geteuid() != 0:
            raise EngineUnavailable("dockerd needs root")
        self.root.mkdir(parents=True, exist_ok=True)
        self._stop_a_leftover()
        self.log = (self.root / "dockerd.log").open("wb")
        self.process = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                # Short: the exec root holds sockets, whose paths are limited to 108 bytes.
                tempfile.mkdtemp(prefix="dsk-exec-"),
                "--pidfile",
                str(self.root / "dockerd.pid"),
                "--host",
                f"unix://{self.socket}",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while run(["docker", "info"], env=self.environment, check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "dockerd.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise EngineUnavailable(f"dockerd did not start:\n{tail}")
            time.sleep(0.5)

    def _stop_a_leftover(self) -> None:
        """A dockerd an interrupted run left on this data root would hold its lock."""
        pidfile = self.root / "dockerd.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop dockerd by its pid, waiting for it to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()

    def docker(self, *arguments: str, **options: object) -> subprocess.CompletedProcess[bytes]:
        return run(["docker", *arguments], env=self.environment, **options)  # type: ignore[arg-type]

    def has_image(self, name: str) -> bool:
        return self.docker("image", "inspect", name, check=False).returncode == 0

    def build_base_image(self) -> None:
        """Debian bookworm minbase with Python 3.11, imported as BASE_IMAGE.

        The machine's own added certificate authorities (a proxy's) are copied
        in, so the image trusts what this machine trusts.
        """
        if self.has_image(BASE_IMAGE):
            return
        with tempfile.TemporaryDirectory(prefix="deskside-rootfs-") as folder:
            rootfs = Path(folder)
            run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    "bookworm",
                    str(rootfs),
                    DEBIAN_MIRROR,
                ],
                timeout=1200,
            )
            local_authorities = Path("/usr/local/share/ca-certificates")
            if local_authorities.is_dir():
                for certificate in local_authorities.glob("*.crt"):
                    shutil.copy(certificate, rootfs / "usr/local/share/ca-certificates")
                run(["chroot", str(rootfs), "update-ca-certificates"])
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (rootfs / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            archive = run(["tar", "-C", str(rootfs), "-c", "."], timeout=600).stdout
        self.docker("import", "-", BASE_IMAGE, input_bytes=archive, timeout=600)

    def build(self, tag: str, dockerfile: Path, context: Path, **arguments: str) -> None:
        """`docker build` on the host network (there is no bridge to give builds one)."""
        build_arguments = [f"--build-arg={key}={value}" for key, value in arguments.items()]
        self.docker(
            "build",
            "--network=host",
            f"--file={dockerfile}",
            f"--tag={tag}",
            *build_arguments,
            str(context),
            timeout=1800,
        )

    def compose_command(self) -> list[str]:
        if _has_compose_plugin():
            return ["docker", "compose"]
        return ["docker-compose"]

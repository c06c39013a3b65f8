"""A real browser against the stack: Debian's Chromium, driven by playwright-core from Node.

What the tests need is installed here when missing, so a fresh machine runs
them with nothing set up: Debian's `chromium` (and `nodejs`, `npm`) with
apt-get as root, then `npm ci` of this folder's package-lock.json into
`node_modules/` (git-ignored), again only when the lock file changed. Where
that cannot be done (not root, no apt-get) the tests are skipped with the
reason, except under `CI=true`, where that is a failure.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deskside_kit.devstack import GATEWAY, SERVICES, Stack
from tests.support.servers import free_ports
from tests.support.tokens import TEST_JWT_SECRET

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("DESKSIDE_TEST_CHROMIUM", "/usr/bin/chromium"))
INSTALL_TIMEOUT_SECONDS = 900
# The whole module: installing Chromium on a fresh machine takes a minute or two.
BROWSER_TIMEOUT_SECONDS = INSTALL_TIMEOUT_SECONDS + 120


class BrowserUnavailable(Exception):
    """Chromium, Node or playwright-core is missing and cannot be installed here."""


@dataclass(frozen=True)
class BrowserTools:
    chromium: Path
    node: str
    # What installing took this session, in seconds, by step (empty when all was there).
    installed: dict[str, float]


def _run(command: list[str], **options: Any) -> None:
    result = subprocess.run(
        command, capture_output=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False, **options
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")[-4000:]
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{output}")


def _install_debian_packages(installed: dict[str, float]) -> None:
    wanted = [] if CHROMIUM.exists() else ["chromium"]
    if shutil.which("node") is None:
        wanted.append("nodejs")
    if shutil.which("npm") is None:
        wanted.append("npm")
    if not wanted:
        return
    if os.geteuid() != 0:
        raise BrowserUnavailable(f"{', '.join(wanted)} missing and not root to install them")
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable(f"{', '.join(wanted)} missing and no apt-get to install them")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    start = time.monotonic()
    _run(["apt-get", "update", "-q"], env=environment)
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *wanted], env=environment)
    installed[f"apt-get install {' '.join(wanted)}"] = time.monotonic() - start


def _install_node_modules(installed: dict[str, float]) -> None:
    """`npm ci` unless node_modules already holds this package-lock.json."""
    lock = (HERE / "package-lock.json").read_bytes()
    stamp = HERE / "node_modules" / ".deskside-lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = shutil.which("npm")
    assert npm is not None
    start = time.monotonic()
    _run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
    )
    stamp.write_text(digest)
    installed["npm ci"] = time.monotonic() - start


@pytest.fixture(scope="session")
def browser_tools() -> BrowserTools:
    installed: dict[str, float] = {}
    try:
        _install_debian_packages(installed)
        _install_node_modules(installed)
    except BrowserUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no browser in CI: {exc}")
        pytest.skip(f"no browser here: {exc}")
    node = shutil.which("node")
    assert node is not None
    return BrowserTools(chromium=CHROMIUM, node=node, installed=installed)


class _PageHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class Origins:
    """Where the test page is served: one origin the gateway allows, one it does not."""

    allowed: str
    refused: str


@pytest.fixture(scope="module")
def page_origins() -> Iterator[Origins]:
    """The page folder served on two loopback ports: two origins (the port is part of one)."""
    handler = functools.partial(_PageHandler, directory=str(HERE / "page"))
    servers = [ThreadingHTTPServer(("127.0.0.1", port), handler) for port in free_ports(2)]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        allowed, refused = (f"http://127.0.0.1:{server.server_port}" for server in servers)
        yield Origins(allowed=allowed, refused=refused)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()


@pytest.fixture(scope="module")
def browser_stack(
    page_origins: Origins, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One stack on SQLite for every browser test, allowing the page's first origin."""
    folder = tmp_path_factory.mktemp("browser-stack")
    ports = dict(zip([part.name for part in (*SERVICES, GATEWAY)], free_ports(4), strict=True))
    stack = Stack(
        ports=ports,
        env={
            "DESKSIDE_ENV": "test",
            "DESKSIDE_VAR_DIR": str(folder / "var"),
            "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
            "DESKSIDE_GATEWAY_CORS_ORIGINS": page_origins.allowed,
            # SQLite under the test's folder, whatever the environment says.
            **{f"DESKSIDE_{part.name.upper()}_DATABASE_URL": "" for part in SERVICES},
        },
        log_dir=folder / "logs",
    )
    start = time.monotonic()
    stack.start()
    print(f"\nbrowser: stack started in {time.monotonic() - start:.1f} s")
    try:
        yield stack
    finally:
        stack.stop()

"""The command line every service has: `serve` and `migrate`.

    deskside-tickets serve [--host H] [--port P]   run the service with uvicorn
    deskside-tickets migrate                       apply its migrations, then exit
    deskside-tickets healthcheck                   exit 0 if the running service is ready

The gateway has no database, so it has no `migrate`. `DESKSIDE_HOST` and
`DESKSIDE_PORT` give `serve` and `healthcheck` their defaults, so a container
image sets them once.

Production runs `migrate` once (a Job, an init step) before the replicas
start, so replicas never race to change the schema.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import uvicorn

from deskside_kit import heap
from deskside_kit.database import create_engine, migrate
from deskside_kit.logs import configure_logging
from deskside_kit.settings import ServiceSettings, StackSettings, load_settings

ExtraCommand = Callable[[Any], Coroutine[Any, Any, str]]

# After SIGTERM, requests in flight get this long to finish; then the lifespan
# stops the background jobs (see `background.STOP_GRACE_SECONDS`). Deployments
# give a process more than both together before they SIGKILL it.
REQUEST_GRACE_SECONDS = 20


def run_service_cli(
    *,
    settings_class: type[StackSettings],
    app_factory: str,
    default_port: int,
    migrations: str | None = None,
    commands: Mapping[str, tuple[str, ExtraCommand]] | None = None,
) -> None:
    """Parse the command line and run it. `commands` adds a service's own:
    name -> (help, `async def run(settings) -> message`)."""
    parser = argparse.ArgumentParser(prog=f"deskside-{settings_class.service_name}")
    subcommands = parser.add_subparsers(dest="command", required=True)
    serve = subcommands.add_parser("serve", help="run the HTTP service")
    host = os.environ.get("DESKSIDE_HOST", "127.0.0.1")
    port = int(os.environ.get("DESKSIDE_PORT", default_port))
    serve.add_argument("--host", default=host)
    serve.add_argument("--port", type=int, default=port)
    subcommands.add_parser("healthcheck", help="exit 0 if the service on DESKSIDE_PORT is ready")
    if migrations is not None:
        subcommands.add_parser("migrate", help="apply database migrations and exit")
    for name, (help_text, _) in (commands or {}).items():
        subcommands.add_parser(name, help=help_text)
    args = parser.parse_args()
    if args.command == "healthcheck":
        # Before the settings: a probe must not depend on more than the port.
        sys.exit(_check_readiness(host, port))

    settings = load_settings(settings_class)
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "migrate":
        assert migrations is not None
        assert isinstance(settings, ServiceSettings)
        asyncio.run(_migrate(settings, migrations))
        return
    if commands and args.command in commands:
        print(asyncio.run(commands[args.command][1](settings)))
        return
    heap.freeze_after_start_up()
    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=REQUEST_GRACE_SECONDS,
    )


def _check_readiness(host: str, port: int) -> int:
    """0 if `/readyz` answers 200: the container HEALTHCHECK, which has no curl to use."""
    # Listening everywhere includes loopback, where the check knocks.
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  # nosec
        host = "127.0.0.1"
    url = f"http://{host}:{port}/readyz"
    try:
        # An http:// URL built just above, never a caller's.
        with urllib.request.urlopen(url, timeout=3) as response:  # nosec B310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"not ready: {url}: {exc}", file=sys.stderr)
        return 1


async def _migrate(settings: ServiceSettings, migrations: str) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await migrate(engine, migrations)
    finally:
        await engine.dispose()

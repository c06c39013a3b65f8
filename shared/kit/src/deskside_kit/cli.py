"""The command line every service has: `serve` and `migrate`.

    deskside-tickets serve [--host H] [--port P]   run the service with uvicorn
    deskside-tickets migrate                       apply its migrations, then exit

The gateway has no database, so it has `serve` alone.

Production runs `migrate` once (a Job, an init step) before the replicas
start, so replicas never race to change the schema.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import uvicorn

from deskside_kit.database import create_engine
from deskside_kit.logs import configure_logging
from deskside_kit.migrations import upgrade_database
from deskside_kit.settings import ServiceSettings, StackSettings, load_settings

ExtraCommand = Callable[[Any], Coroutine[Any, Any, str]]


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
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    if migrations is not None:
        subcommands.add_parser("migrate", help="apply database migrations and exit")
    for name, (help_text, _) in (commands or {}).items():
        subcommands.add_parser(name, help=help_text)
    args = parser.parse_args()

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
    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # Requests in flight get this long to finish after SIGTERM.
        timeout_graceful_shutdown=20,
    )


async def _migrate(settings: ServiceSettings, migrations: str) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine, migrations)
    finally:
        await engine.dispose()

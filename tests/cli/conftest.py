"""Running the `deskside` command in tests: Typer's CliRunner, always on a thread of its own.

The command runs its own event loop (`asyncio.run`); on a worker thread it
never touches the loop pytest-asyncio keeps for the session, and async tests
keep serving their receivers while it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from click.testing import Result
from typer.testing import CliRunner

from deskside_cli.app import app

Environment = Mapping[str, str | None]

# Wide enough that rich never wraps a table cell the tests look for.
TERMINAL = {"COLUMNS": "200"}


def invoke(*args: str, env: Environment | None = None) -> Result:
    """Run `deskside <args>` and return what it printed and its exit status."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run, list(args), env).result()


async def invoke_async(*args: str, env: Environment | None = None) -> Result:
    return await asyncio.to_thread(_run, list(args), env)


def _run(args: list[str], env: Environment | None) -> Result:
    # Nothing from the developer's shell (DESKSIDE_URL, DESKSIDE_TOKEN) leaks in.
    environment: dict[str, str | None] = {"DESKSIDE_URL": None, "DESKSIDE_TOKEN": None}
    environment |= TERMINAL
    environment |= dict(env or {})
    return CliRunner().invoke(app, args, env=environment, catch_exceptions=False)

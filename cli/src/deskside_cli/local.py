"""What `make token`, `make migrate` and `make seed` run, for the `deskside` command.

These work from this machine's configuration (the same `DESKSIDE_*`
variables and `var/` folder as the services), not through the API with a
caller's token: tokens are signed with the stack's key, migrations open each
service's database, and the seed mints the tokens of its demo people.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from alembic.runtime.migration import MigrationContext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from deskside_cli.errors import CliError
from deskside_contracts.common import Role
from deskside_inventory.config import InventorySettings
from deskside_kit.database import create_engine
from deskside_kit.migrations import upgrade_database
from deskside_kit.settings import (
    JwtSettings,
    ServiceSettings,
    SettingsError,
    SettingsT,
    load_settings,
)
from deskside_kit.tokens import mint_token
from deskside_notify.config import NotifySettings
from deskside_tickets import seed as demo
from deskside_tickets.config import TicketsSettings

# Each service with a database and its Alembic tree: what `make migrate` runs, in its order.
MIGRATIONS: dict[str, tuple[type[ServiceSettings], str]] = {
    "tickets": (TicketsSettings, "deskside_tickets:migrations"),
    "inventory": (InventorySettings, "deskside_inventory:migrations"),
    "notify": (NotifySettings, "deskside_notify:migrations"),
}


def settings_of(settings_class: type[SettingsT]) -> SettingsT:
    try:
        return load_settings(settings_class)
    except SettingsError as exc:
        raise CliError(str(exc)) from None


# --- tokens -------------------------------------------------------------------------------------


def development_token(
    *,
    roles: list[Role],
    sub: str,
    email: str | None,
    name: str | None,
    tier: int | None,
    department: str | None,
    lifetime_seconds: int,
) -> str:
    """A token the running stack accepts, signed with its key (as `deskside-token` does)."""
    settings = settings_of(JwtSettings)
    secret = settings.resolved_jwt_secret()
    if secret is None:
        raise CliError(
            "DESKSIDE_JWT_JWKS_URL is set: tokens come from your identity provider, "
            "not from deskside token."
        )
    return mint_token(
        secret,
        sub=sub,
        roles=[role.value for role in roles] or [Role.REQUESTER.value],
        email=email,
        name=name,
        tier=tier,
        department=department,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime_seconds=lifetime_seconds,
    )


# --- migrations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migrated:
    service: str
    database: str
    before: str | None
    after: str | None


async def migrate(services: list[str]) -> list[Migrated]:
    """Bring each service's database to its newest revision, one after the other."""
    return [await _migrate_one(service) for service in services]


async def _migrate_one(service: str) -> Migrated:
    settings_class, script_location = MIGRATIONS[service]
    url = settings_of(settings_class).resolved_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    engine = create_engine(url)
    try:
        before = await _revision(engine)
        await upgrade_database(engine, script_location)
        after = await _revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CliError(f"Cannot migrate the {service} database at {shown}: {reason}") from None
    finally:
        await engine.dispose()
    return Migrated(service=service, database=shown, before=before, after=after)


async def _revision(engine: AsyncEngine) -> str | None:
    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(current)


# --- the demo desk ------------------------------------------------------------------------------


# Every one of the seed's employees gets devices and accounts.
EMPLOYEES = len(demo.PEOPLE)


@dataclass
class _CountingDesk(demo.Desk):
    """The seed's desk, telling a progress bar about each ticket and each employee."""

    on_ticket: Callable[[], None] = field(default=lambda: None)
    on_employee: Callable[[], None] = field(default=lambda: None)

    def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        answer = super().call(method, path, headers, **kwargs)
        if method == "POST" and path == "/v1/tickets":
            self.on_ticket()
        return answer

    def as_(
        self, sub: str, role: str, name: str | None = None, department: str | None = None
    ) -> dict[str, str]:
        # Only the inventory part speaks as employees of a department, once per employee.
        if department is not None:
            self.on_employee()
        return super().as_(sub, role, name, department)


def seed(url: str, tickets: int, seed_number: int, progress_console: Console) -> None:
    """`make seed` (deskside_tickets.seed) with progress bars instead of its printed counts."""
    settings = settings_of(ServiceSettings)
    secret = settings.resolved_jwt_secret()
    if secret is None:
        raise CliError(
            "deskside seed mints its own tokens: it needs DESKSIDE_JWT_SECRET, not a JWKS."
        )
    with httpx.Client(base_url=url, timeout=30, transport=demo.PatientTransport()) as http:
        try:
            http.get("/readyz").raise_for_status()
        except httpx.HTTPError:
            raise CliError(f"Cannot reach Deskside at {url}: is it running? (make run)") from None
        progress = Progress(
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=progress_console,
        )
        with progress, contextlib.redirect_stdout(io.StringIO()):
            ticket_task = progress.add_task("Tickets", total=tickets)
            people_task = progress.add_task("Employees' devices and accounts", total=EMPLOYEES)
            desk = _CountingDesk(
                http,
                secret,
                on_ticket=lambda: progress.advance(ticket_task),
                on_employee=lambda: progress.advance(people_task),
            )
            rng = random.Random(seed_number)  # noqa: S311  (demo data, not secrets)
            try:
                demo.seed(desk, tickets, rng)
                demo.seed_inventory(desk, rng, demo._checkin_secret(settings))
            except SystemExit as exc:
                # The seed stops with a message when the API refuses one of its requests.
                raise CliError(f"The seed stopped: {exc.code}") from None
            except httpx.HTTPError as exc:
                raise CliError(f"The seed lost Deskside at {url}: {exc}") from None

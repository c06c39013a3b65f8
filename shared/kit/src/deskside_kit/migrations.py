"""Alembic, the same way in every service.

Each service keeps its own revisions in `<service>/migrations/`; its `env.py`
only calls `run_migrations_from_env(metadata)`. Migrations run either at
start-up (embedded default) on the service's own engine, or through the
service's explicit `migrate` command in production, so replicas never race.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from deskside_kit.database import create_engine

# Any fixed number: serialises migrations across processes sharing one PostgreSQL database.
_MIGRATION_LOCK_ID = 0x6465736B


def alembic_config(script_location: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    # ConfigParser interpolation would read `%` in a password as syntax.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade_on(connection: Connection, config: Config) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_database(engine: AsyncEngine, script_location: str) -> None:
    """Bring the database behind `engine` to the newest revision."""
    config = alembic_config(script_location, engine.url.render_as_string(hide_password=False))
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_on, config)


def run_migrations_from_env(target_metadata: MetaData) -> None:
    """The body of every service's Alembic `env.py`."""
    config = context.config

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    shared: Any = config.attributes.get("connection")
    if shared is not None:
        run(shared)
        return

    async def run_standalone() -> None:
        engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
        try:
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
                    )
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(run_standalone())

"""Alembic, the same way in every service.

Each service keeps its own revisions in `<service>/migrations/`; its `env.py`
only calls `run_migrations_from_env(metadata)`. Migrations run either at
start-up (embedded default) on the service's own engine, or through the
service's explicit `migrate` command in production, so replicas never race.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from deskside_kit.database import UtcDateTime, create_engine

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


# --- the kit's own tables, for the services' migrations ---------------------------------
#
# Every service keeps an outbox and idempotency keys in its own database. Their
# migrations call these, so the tables are described once. What these create
# must never change: a later change to the tables is a new function and a new
# migration in each service.


def create_outbox_table_v1() -> None:
    op.create_table(
        "outbox",
        sa.Column("sequence", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "sequence"])


def create_idempotency_table_v1() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("owner", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("operation", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )


def create_audit_table_v1() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("roles", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
    )
    op.create_index("ix_audit_records_actor", "audit_records", ["actor", "id"])


def drop_audit_table_v1() -> None:
    op.drop_index("ix_audit_records_actor", table_name="audit_records")
    op.drop_table("audit_records")


def create_partial_index(name: str, table: str, columns: list[str], where: str) -> None:
    """`database.partial_index` in a migration: the same condition on both databases."""
    condition = sa.text(where)
    op.create_index(name, table, columns, postgresql_where=condition, sqlite_where=condition)


def index_outbox_to_send_v2() -> None:
    """The relay's claims read only the unsent events, in order: replaces v1's index.

    v1 indexed (sent_at, sequence). It finds the unsent events, but the planner
    takes `sent_at IS NULL` for no equality, so it sorted every unsent event for
    each claim of a batch: a backlog of B events cost about B²/batch rows to
    drain. And with many unsent events in the statistics, walking the primary key
    from the first event ever sent looked as good. A partial index holds only
    the unsent events, in sequence order.
    """
    create_partial_index("ix_outbox_to_send", "outbox", ["sequence"], "sent_at IS NULL")
    op.drop_index("ix_outbox_unsent", table_name="outbox")


def unindex_outbox_to_send_v2() -> None:
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "sequence"])
    op.drop_index("ix_outbox_to_send", table_name="outbox")


def drop_kit_tables_v1() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.drop_table("outbox")

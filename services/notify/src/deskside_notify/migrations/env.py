"""Alembic environment of the notify service."""

from sqlmodel import SQLModel

import deskside_notify.models  # noqa: F401  (registers the tables on the metadata)
from deskside_kit.migrations import run_migrations_from_env

run_migrations_from_env(SQLModel.metadata)

"""Tickets and their reference numbers.

Revision ID: 20261122_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261122_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False, unique=True),
        sa.Column("reference", sa.String(length=24), nullable=False, unique=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("requester_id", sa.String(length=255), nullable=False),
        sa.Column("requester_email", sa.String(length=320), nullable=True),
        sa.Column("requester_name", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_tickets_requester_id_id", "tickets", ["requester_id", "id"])
    op.create_table(
        "reference_counters",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE ticket_reference_seq START 1")
    else:
        op.execute("INSERT INTO reference_counters (name, value) VALUES ('ticket', 0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE ticket_reference_seq")
    op.drop_table("reference_counters")
    op.drop_index("ix_tickets_requester_id_id", table_name="tickets")
    op.drop_table("tickets")

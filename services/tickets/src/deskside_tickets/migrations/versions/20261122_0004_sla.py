"""SLA policies and each ticket's clocks.

The service makes a default policy at start-up when there is none (sla.py).

Revision ID: 20261122_0004
Revises: 20261122_0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261122_0004"
down_revision: str | None = "20261122_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TICKET_COLUMNS: list[sa.Column[object]] = [
    sa.Column("sla_policy_id", sa.String(40), nullable=True),
    sa.Column("sla_paused_seconds", sa.Float(), nullable=False, server_default="0"),
    sa.Column("sla_paused_since", UtcDateTime(), nullable=True),
    sa.Column("sla_first_response_seconds", sa.Float(), nullable=True),
    sa.Column("sla_first_response_due_at", UtcDateTime(), nullable=True),
    sa.Column("sla_resolution_due_at", UtcDateTime(), nullable=True),
    sa.Column("sla_first_response_warned", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("sla_resolution_warned", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column(
        "sla_first_response_breached", sa.Boolean(), nullable=False, server_default=sa.false()
    ),
    sa.Column("sla_resolution_breached", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("sla_next_check_at", UtcDateTime(), nullable=True),
]


def upgrade() -> None:
    for column in _NEW_TICKET_COLUMNS:
        op.add_column("tickets", column)
    op.create_index("ix_tickets_sla_next_check_at", "tickets", ["sla_next_check_at"])
    op.create_index("ix_tickets_sla_resolution_due_at", "tickets", ["sla_resolution_due_at", "id"])
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("business_hours", sa.JSON(), nullable=False),
        sa.Column("pause_on", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sla_policies")
    op.drop_index("ix_tickets_sla_resolution_due_at", table_name="tickets")
    op.drop_index("ix_tickets_sla_next_check_at", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in _NEW_TICKET_COLUMNS:
            batch.drop_column(column.name)

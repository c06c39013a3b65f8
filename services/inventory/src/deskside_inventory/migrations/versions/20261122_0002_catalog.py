"""The full catalog entry, the outbox and idempotency keys.

Revision ID: 20261122_0002
Revises: 20261122_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.migrations import (
    create_idempotency_table_v1,
    create_outbox_table_v1,
    drop_kit_tables_v1,
)

revision: str = "20261122_0002"
down_revision: str | None = "20261122_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_COLUMNS: list[sa.Column[object]] = [
    sa.Column("recommended_alternative", sa.String(64), nullable=True),
    sa.Column("min_os_version", sa.String(32), nullable=True),
    sa.Column("guide", sa.Text(), nullable=True),
    sa.Column("links", sa.JSON(), nullable=False, server_default="[]"),
    sa.Column("vendor_support", sa.JSON(), nullable=True),
    sa.Column("app_identifiers", sa.JSON(), nullable=False, server_default="[]"),
]


def upgrade() -> None:
    for column in _NEW_COLUMNS:
        op.add_column("technologies", column)
    op.create_index("ix_technologies_category_key", "technologies", ["category", "key"])
    create_outbox_table_v1()
    create_idempotency_table_v1()


def downgrade() -> None:
    drop_kit_tables_v1()
    op.drop_index("ix_technologies_category_key", table_name="technologies")
    with op.batch_alter_table("technologies") as batch:
        for column in _NEW_COLUMNS:
            batch.drop_column(column.name)

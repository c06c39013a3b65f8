"""Consumer-service accounts and IT's decisions on them.

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


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("owner_email", sa.String(320), nullable=True),
        sa.Column("owner_name", sa.String(255), nullable=True),
        sa.Column("technology", sa.String(64), nullable=False),
        sa.Column("identifier", sa.String(320), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("data_classification", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("recommended_alternative", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_accounts_owner_id_id", "accounts", ["owner_id", "id"])
    op.create_index("ix_accounts_technology", "accounts", ["technology"])
    op.create_index("ix_accounts_status", "accounts", ["status"])


def downgrade() -> None:
    op.drop_table("accounts")

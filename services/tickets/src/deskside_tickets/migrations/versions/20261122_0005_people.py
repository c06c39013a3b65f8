"""Agents, groups and their members.

Revision ID: 20261122_0005
Revises: 20261122_0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261122_0005"
down_revision: str | None = "20261122_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("auto_assign", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_groups_tier", "groups", ["tier"])
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(40), sa.ForeignKey("groups.id"), primary_key=True),
        sa.Column("agent_id", sa.String(255), sa.ForeignKey("agents.id"), primary_key=True),
    )
    op.create_index("ix_group_members_agent_id", "group_members", ["agent_id"])


def downgrade() -> None:
    op.drop_table("group_members")
    op.drop_index("ix_groups_tier", table_name="groups")
    op.drop_table("groups")
    op.drop_table("agents")

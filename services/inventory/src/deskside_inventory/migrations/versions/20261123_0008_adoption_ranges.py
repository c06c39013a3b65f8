"""Indexes for the adoption report's time range, one per bound.

Each leads with the column a bound compares (`from` with when use was last
seen, `to` with when it began) and carries the other columns the report reads,
so a range is answered from the index alone.

Revision ID: 20261123_0008
Revises: 20261123_0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_0008"
down_revision: str | None = "20261123_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: list[tuple[str, str, list[str]]] = [
    (
        "ix_devices_updated_at_created_at",
        "devices",
        ["updated_at", "created_at", "technology", "owner_id"],
    ),
    (
        "ix_devices_created_at_updated_at",
        "devices",
        ["created_at", "updated_at", "technology", "owner_id"],
    ),
    (
        "ix_accounts_updated_at_created_at",
        "accounts",
        ["updated_at", "created_at", "status", "technology", "owner_id"],
    ),
    (
        "ix_accounts_created_at_updated_at",
        "accounts",
        ["created_at", "updated_at", "status", "technology", "owner_id"],
    ),
    (
        "ix_discovered_uses_last_seen_at_first_seen_at",
        "discovered_uses",
        ["last_seen_at", "first_seen_at", "technology", "owner_id"],
    ),
    (
        "ix_discovered_uses_first_seen_at_last_seen_at",
        "discovered_uses",
        ["first_seen_at", "last_seen_at", "technology", "owner_id"],
    ),
]


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)

"""The audit trail: every change and every refused request, who, what, when.

Revision ID: 20261123_0008
Revises: 20261123_0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from deskside_kit.migrations import create_audit_table_v1, drop_audit_table_v1

revision: str = "20261123_0008"
down_revision: str | None = "20261123_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table_v1()


def downgrade() -> None:
    drop_audit_table_v1()

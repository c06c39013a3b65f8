"""People's departments, learned from their tokens, for the adoption report's filter.

Revision ID: 20261123_0006
Revises: 20261122_0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261123_0006"
down_revision: str | None = "20261122_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_departments",
        sa.Column("person_id", sa.String(255), primary_key=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_person_departments_department", "person_departments", ["department"])


def downgrade() -> None:
    op.drop_index("ix_person_departments_department", table_name="person_departments")
    op.drop_table("person_departments")

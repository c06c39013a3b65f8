"""Autovacuum keeps up with the tickets table, so reports stay index-only (PostgreSQL).

The reports count and rank a range of tickets from covering indexes alone,
which holds only for heap pages the visibility map marks all-visible. Every
new or changed ticket clears its page's mark; until a vacuum sets it again,
each row on that page costs a read of the table. New tickets also land in the
free space left all over the table, not at its end, so a few thousand creates
unmark thousands of pages. PostgreSQL's default waits for a fifth of the table
to change: 200,000 tickets at a million, and the reports measured twice as
slow meanwhile. Vacuuming after half a percent instead (about 6,000 tickets at
a million) is cheap: a vacuum reads only the unmarked pages.

Revision ID: 20261124_0012
Revises: 20261123_0011
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261124_0012"
down_revision: str | None = "20261123_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.005",
    "autovacuum_vacuum_insert_scale_factor": "0.005",
    "autovacuum_analyze_scale_factor": "0.01",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE tickets SET ("
        + ", ".join(f"{name} = {value}" for name, value in _SETTINGS.items())
        + ")"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE tickets RESET (" + ", ".join(_SETTINGS) + ")")

"""Median response and resolution times read from an index, not sorted (PostgreSQL).

The summary report's medians sorted every duration of the range: at a million
tickets two sorts of a million computed values, most of the report's time. Two
generated columns keep each ticket's minutes to first response and to
resolution, and an index on each keeps them in order. The report counts the
range's durations with its other totals, then reads the middle one or two by
walking an index from the shortest: half the entries, no sort. SQLite computes
its medians in Python as before.

Adding stored generated columns rewrites the tickets table once; on a million
tickets that takes tens of seconds with the table locked, so run this revision
when the desk is quiet.

Revision ID: 20261123_0011
Revises: 20261123_0010
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_0011"
down_revision: str | None = "20261123_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Minutes as the report gives them: float8, which PostgreSQL compares far faster than numeric.
_DURATIONS = {
    "first_response_minutes": "first_response_at",
    "resolution_minutes": "resolved_at",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE tickets "
        + ", ".join(
            f"ADD COLUMN {column} double precision"
            f" GENERATED ALWAYS AS (date_part('epoch', {moment} - created_at) / 60) STORED"
            for column, moment in _DURATIONS.items()
        )
    )
    for column in _DURATIONS:
        # Partial: an unanswered or unresolved ticket has no duration to rank.
        op.execute(
            f"CREATE INDEX ix_tickets_{column} ON tickets ({column}, created_at)"
            f" WHERE {column} IS NOT NULL"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _DURATIONS:
        op.execute(f"DROP INDEX ix_tickets_{column}")
    op.execute("ALTER TABLE tickets " + ", ".join(f"DROP COLUMN {c}" for c in _DURATIONS))

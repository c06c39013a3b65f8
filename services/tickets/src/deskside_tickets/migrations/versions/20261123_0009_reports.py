"""Reports from SQL aggregates: settled work time lost, and indexes that cover them.

`minutes_lost` keeps the business minutes a stopped person lost, fixed when the
ticket is resolved or closed, so the productivity report sums it in SQL
instead of walking a calendar for every ticket of the year. Rows resolved
before this revision keep NULL; the report computes those as it computes open
tickets, so nothing needs back-filling.

On PostgreSQL covering indexes let the summary and productivity reports
read a year of tickets from the index alone (an index-only scan), not from the
wide ticket rows. SQLite answers the same queries from `ix_tickets_created_at_id`.

Revision ID: 20261123_0009
Revises: 20261123_0008
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_0009"
down_revision: str | None = "20261123_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("minutes_lost", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_tickets_summary ON tickets (created_at)"
        " INCLUDE (status, priority, technology_key, sla_policy_id,"
        " sla_first_response_breached, sla_resolution_breached,"
        " first_response_at, resolved_at)"
    )
    op.execute(
        "CREATE INDEX ix_tickets_work_stopped ON tickets (created_at)"
        " INCLUDE (minutes_lost, technology_key, technology_name, technology_vendor,"
        " technology_tier) WHERE work_stopped"
    )
    # The few still losing time (open, or settled before this revision): the
    # report computes those, and finds them without walking every stopped ticket.
    op.execute(
        "CREATE INDEX ix_tickets_losing_time ON tickets (created_at)"
        " INCLUDE (technology_key, technology_name, technology_vendor, technology_tier,"
        " sla_policy_id, resolved_at, closed_at) WHERE work_stopped AND minutes_lost IS NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_tickets_losing_time")
        op.execute("DROP INDEX ix_tickets_work_stopped")
        op.execute("DROP INDEX ix_tickets_summary")
    op.drop_column("tickets", "minutes_lost")

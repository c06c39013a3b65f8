"""Indexes of what housekeeping looks for: tickets due to close, tickets to enrich.

Housekeeping closes resolved tickets once their auto-close days are up, every
30 seconds: `status = 'resolved' AND resolved_at < cutoff`, oldest first. The
index on `resolved_at` held every ticket ever resolved, closed ones included,
so the query walked all of them to find the few still resolved: at a million
tickets 916,000 rows and about a second of the database's time on each round,
which also showed as a spike in the latency of every request it overlapped. A
partial index holds only the tickets whose status is `resolved`; nothing else
asked for the full one.

Enrichment (filling in the technology snapshot inventory could not give at
creation) asked for `enrichment = 'pending'`, oldest first, through an index
of every ticket's enrichment. Its plan for any value (a prepared statement's)
walked all tickets by creation time. A partial index of the pending ones, by
creation time, replaces it: one index fewer for every create to keep.

Revision ID: 20261124_0013
Revises: 20261124_0012
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

from deskside_kit.migrations import create_partial_index

revision: str = "20261124_0013"
down_revision: str | None = "20261124_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_partial_index(
        "ix_tickets_awaiting_close", "tickets", ["resolved_at"], "status = 'resolved'"
    )
    op.drop_index("ix_tickets_resolved_at", table_name="tickets")
    create_partial_index(
        "ix_tickets_enrichment_pending", "tickets", ["created_at"], "enrichment = 'pending'"
    )
    op.drop_index("ix_tickets_enrichment", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_enrichment", "tickets", ["enrichment"])
    op.drop_index("ix_tickets_enrichment_pending", table_name="tickets")
    op.create_index("ix_tickets_resolved_at", "tickets", ["resolved_at"])
    op.drop_index("ix_tickets_awaiting_close", table_name="tickets")

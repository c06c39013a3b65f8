"""Ticket lifecycle: triage fields, comments, history, the outbox and idempotency keys.

Revision ID: 20261122_0002
Revises: 20261122_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime
from deskside_kit.migrations import (
    create_idempotency_table_v1,
    create_outbox_table_v1,
    drop_kit_tables_v1,
)

revision: str = "20261122_0002"
down_revision: str | None = "20261122_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TICKET_COLUMNS = [
    sa.Column("waiting_on", sa.String(16), nullable=True),
    sa.Column("channel", sa.String(16), nullable=False, server_default="web"),
    sa.Column("impact", sa.String(16), nullable=False, server_default="medium"),
    sa.Column("urgency", sa.String(16), nullable=False, server_default="medium"),
    sa.Column("priority", sa.String(4), nullable=False, server_default="p3"),
    sa.Column("priority_overridden", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("priority_reason", sa.String(1000), nullable=True),
    sa.Column("category", sa.String(100), nullable=True),
    sa.Column("technology_key", sa.String(64), nullable=True),
    sa.Column("technology_name", sa.String(200), nullable=True),
    sa.Column("technology_vendor", sa.String(200), nullable=True),
    sa.Column("technology_tier", sa.String(32), nullable=True),
    sa.Column("technology_guide", sa.Text(), nullable=True),
    sa.Column("enrichment", sa.String(32), nullable=False, server_default="none"),
    sa.Column("device_id", sa.String(64), nullable=True),
    sa.Column("account_id", sa.String(64), nullable=True),
    sa.Column("work_stopped", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_by", sa.String(255), nullable=False, server_default=""),
    sa.Column("assignee_id", sa.String(255), nullable=True),
    sa.Column("group_id", sa.String(64), nullable=True),
    sa.Column("resolution", sa.Text(), nullable=True),
    sa.Column("first_response_at", UtcDateTime(), nullable=True),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),
]
_NEW_TICKET_INDEXES = {
    "ix_tickets_created_at_id": ["created_at", "id"],
    "ix_tickets_updated_at_id": ["updated_at", "id"],
    "ix_tickets_priority_id": ["priority", "id"],
    "ix_tickets_status": ["status"],
    "ix_tickets_assignee_id": ["assignee_id"],
    "ix_tickets_resolved_at": ["resolved_at"],
    "ix_tickets_technology_key": ["technology_key"],
    "ix_tickets_enrichment": ["enrichment"],
    "ix_tickets_group_id": ["group_id"],
}


def upgrade() -> None:
    for column in _NEW_TICKET_COLUMNS:
        op.add_column("tickets", column)
    op.execute("UPDATE tickets SET created_by = requester_id")
    for name, columns in _NEW_TICKET_INDEXES.items():
        op.create_index(name, "tickets", columns)

    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("ticket_id", sa.String(40), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("author_id", sa.String(255), nullable=False),
        sa.Column("author_email", sa.String(320), nullable=True),
        sa.Column("author_name", sa.String(255), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_ticket_comments_ticket_id_id", "ticket_comments", ["ticket_id", "id"])

    op.create_table(
        "ticket_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(40), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("field", sa.String(64), nullable=True),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_ticket_changes_ticket_id_id", "ticket_changes", ["ticket_id", "id"])

    create_outbox_table_v1()

    create_idempotency_table_v1()


def downgrade() -> None:
    drop_kit_tables_v1()
    op.drop_index("ix_ticket_changes_ticket_id_id", table_name="ticket_changes")
    op.drop_table("ticket_changes")
    op.drop_index("ix_ticket_comments_ticket_id_id", table_name="ticket_comments")
    op.drop_table("ticket_comments")
    for name in _NEW_TICKET_INDEXES:
        op.drop_index(name, table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in _NEW_TICKET_COLUMNS:
            batch.drop_column(column.name)

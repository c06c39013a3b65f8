"""Inbound email and alerts, the tickets alerts opened, and a group's shared mailbox.

`inbound_messages` keeps every signed request as received, raw, until the
background processor has turned it into tickets and comments; `alert_tickets`
says which ticket an alert fingerprint fires into.

Revision ID: 20261123_0007
Revises: 20261122_0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261123_0007"
down_revision: str | None = "20261122_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("integration", sa.String(64), nullable=False),
        sa.Column("webhook_id", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("ticket_id", sa.String(40), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("integration", "webhook_id", name="uq_inbound_messages_webhook"),
        sa.UniqueConstraint("message_id", name="uq_inbound_messages_message_id"),
    )
    op.create_index("ix_inbound_messages_due", "inbound_messages", ["status", "next_attempt_at"])
    op.create_index("ix_inbound_messages_ticket_id", "inbound_messages", ["ticket_id"])
    op.create_table(
        "alert_tickets",
        sa.Column("ticket_id", sa.String(40), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("integration", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(16), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_alert_tickets_fingerprint", "alert_tickets", ["integration", "fingerprint"])


def downgrade() -> None:
    op.drop_index("ix_alert_tickets_fingerprint", table_name="alert_tickets")
    op.drop_table("alert_tickets")
    op.drop_index("ix_inbound_messages_ticket_id", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("email")

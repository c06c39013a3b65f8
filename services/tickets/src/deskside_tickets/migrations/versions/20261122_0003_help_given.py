"""Help given and escalation: interactions, watchers, links, merges, satisfaction, escalations.

Revision ID: 20261122_0003
Revises: 20261122_0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261122_0003"
down_revision: str | None = "20261122_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TICKET_COLUMNS: list[sa.Column[object]] = [
    sa.Column("merged_into_id", sa.String(40), nullable=True),
    sa.Column("satisfaction_rating", sa.Integer(), nullable=True),
    sa.Column("satisfaction_comment", sa.String(2000), nullable=True),
    sa.Column("satisfaction_at", UtcDateTime(), nullable=True),
    sa.Column("tier", sa.Integer(), nullable=False, server_default="1"),
]


def _ticket_id() -> sa.Column[str]:
    return sa.Column("ticket_id", sa.String(40), sa.ForeignKey("tickets.id"), nullable=False)


def upgrade() -> None:
    for column in _NEW_TICKET_COLUMNS:
        op.add_column("tickets", column)
    op.create_table(
        "ticket_interactions",
        sa.Column("id", sa.String(40), primary_key=True),
        _ticket_id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(255), nullable=False),
        sa.Column("scheduled_for", UtcDateTime(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("remote_tool", sa.String(100), nullable=True),
        sa.Column("remote_link", sa.String(2000), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_ticket_interactions_ticket_id_id", "ticket_interactions", ["ticket_id", "id"]
    )
    op.create_table(
        "ticket_watchers",
        sa.Column("ticket_id", sa.String(40), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("person_id", sa.String(255), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_ticket_watchers_person_id", "ticket_watchers", ["person_id"])
    op.create_table(
        "ticket_links",
        sa.Column("first_id", sa.String(40), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("second_id", sa.String(40), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "ticket_escalations",
        sa.Column("id", sa.String(40), primary_key=True),
        _ticket_id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("to_tier", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("fault_domain", sa.String(32), nullable=True),
        sa.Column("vendor", sa.String(200), nullable=True),
        sa.Column("request", sa.String(32), nullable=True),
        sa.Column("vendor_case_ref", sa.String(200), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_ticket_escalations_ticket_id_id", "ticket_escalations", ["ticket_id", "id"])
    op.create_index(
        "ix_ticket_escalations_vendor_status", "ticket_escalations", ["vendor", "status"]
    )
    op.create_table(
        "escalation_evidence",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "escalation_id", sa.String(40), sa.ForeignKey("ticket_escalations.id"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_escalation_evidence_escalation_id", "escalation_evidence", ["escalation_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("escalation_evidence")
    op.drop_table("ticket_escalations")
    op.drop_table("ticket_links")
    op.drop_table("ticket_watchers")
    op.drop_table("ticket_interactions")
    with op.batch_alter_table("tickets") as batch:
        for column in _NEW_TICKET_COLUMNS:
            batch.drop_column(column.name)

"""Inbound messages still to process, in an index of their own, oldest first.

The processor claims `status = 'pending' AND next_attempt_at <= now`, oldest
received first, one message at a time, up to fifty a round. The index on
(status, next_attempt_at) found the due messages but not in that order, so
every claim read and sorted all of them: a backlog of N messages cost fifty
times N rows a round. A partial index of the pending messages by
(received_at, id) gives them in order; processed messages, which pile up
for good, are not in it.

Revision ID: 20261124_0015
Revises: 20261124_0014
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

from deskside_kit.migrations import create_partial_index

revision: str = "20261124_0015"
down_revision: str | None = "20261124_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_partial_index(
        "ix_inbound_messages_pending",
        "inbound_messages",
        ["received_at", "id"],
        "status = 'pending'",
    )
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")


def downgrade() -> None:
    op.create_index("ix_inbound_messages_due", "inbound_messages", ["status", "next_attempt_at"])
    op.drop_index("ix_inbound_messages_pending", table_name="inbound_messages")

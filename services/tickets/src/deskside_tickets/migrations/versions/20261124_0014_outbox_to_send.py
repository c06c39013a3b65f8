"""The outbox's index of events still to send: only those, in order.

See `deskside_kit.migrations.index_outbox_to_send_v2`.

Revision ID: 20261124_0014
Revises: 20261124_0013
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from deskside_kit.migrations import index_outbox_to_send_v2, unindex_outbox_to_send_v2

revision: str = "20261124_0014"
down_revision: str | None = "20261124_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    index_outbox_to_send_v2()


def downgrade() -> None:
    unindex_outbox_to_send_v2()

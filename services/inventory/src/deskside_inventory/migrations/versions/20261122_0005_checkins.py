"""Check-ins from device management: device sources, processed webhooks, discovered use.

Revision ID: 20261122_0005
Revises: 20261122_0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deskside_kit.database import UtcDateTime

revision: str = "20261122_0005"
down_revision: str | None = "20261122_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("devices", sa.Column("source", sa.String(64), nullable=True))
    op.add_column("devices", sa.Column("external_id", sa.String(255), nullable=True))
    op.add_column("devices", sa.Column("apps", sa.JSON(), nullable=False, server_default="[]"))
    op.create_index(
        "ix_devices_source_external_id", "devices", ["source", "external_id"], unique=True
    )
    op.create_table(
        "inbound_webhooks",
        sa.Column("integration", sa.String(64), primary_key=True),
        sa.Column("webhook_id", sa.String(255), primary_key=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "discovered_uses",
        sa.Column("owner_id", sa.String(255), primary_key=True),
        sa.Column("technology", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(40), primary_key=True),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_discovered_uses_technology", "discovered_uses", ["technology"])


def downgrade() -> None:
    op.drop_table("discovered_uses")
    op.drop_table("inbound_webhooks")
    op.drop_index("ix_devices_source_external_id", table_name="devices")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("apps")
        batch.drop_column("external_id")
        batch.drop_column("source")

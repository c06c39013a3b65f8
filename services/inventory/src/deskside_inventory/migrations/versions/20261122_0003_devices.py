"""Devices and their compliance.

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


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("owner_email", sa.String(320), nullable=True),
        sa.Column("owner_name", sa.String(255), nullable=True),
        sa.Column("ownership", sa.String(16), nullable=False),
        sa.Column("technology", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("os_version", sa.String(32), nullable=True),
        sa.Column("encrypted", sa.Boolean(), nullable=True),
        sa.Column("passcode_set", sa.Boolean(), nullable=True),
        sa.Column("serial_number", sa.String(100), nullable=True),
        sa.Column("imei", sa.String(32), nullable=True),
        sa.Column("compliance", sa.String(16), nullable=False),
        sa.Column("compliance_reasons", sa.JSON(), nullable=False),
        sa.Column("enrolled_at", UtcDateTime(), nullable=False),
        sa.Column("last_check_in_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        # Belt and braces for the privacy rule the API enforces.
        sa.CheckConstraint(
            "ownership = 'corporate' OR (serial_number IS NULL AND imei IS NULL)",
            name="ck_devices_personal_without_hardware_ids",
        ),
    )
    op.create_index("ix_devices_owner_id_id", "devices", ["owner_id", "id"])
    op.create_index("ix_devices_technology", "devices", ["technology"])
    op.create_index("ix_devices_compliance", "devices", ["compliance"])


def downgrade() -> None:
    op.drop_table("devices")

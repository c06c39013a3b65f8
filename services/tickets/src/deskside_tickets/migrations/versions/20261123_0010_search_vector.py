"""Full-text search from a stored `tsvector` (PostgreSQL).

Migration 0006 indexed the expression `to_tsvector('english', search_text)`.
The index finds the rows, but PostgreSQL still computes `to_tsvector` again for
every row it checks: for every candidate of a common word when it walks the
newest tickets first, and for every match of a rare one when it sorts them. At
a million tickets that made one search in a hundred take over a second. A
generated column computes the vector once, when the text is written; the GIN
index moves onto it. SQLite keeps its FTS5 table.

Revision ID: 20261123_0010
Revises: 20261123_0009
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261123_0010"
down_revision: str | None = "20261123_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_tickets_search")
    op.execute(
        "ALTER TABLE tickets ADD COLUMN search_vector tsvector"
        " GENERATED ALWAYS AS (to_tsvector('english', search_text)) STORED"
    )
    op.execute("CREATE INDEX ix_tickets_search ON tickets USING GIN (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_tickets_search")
    op.execute("ALTER TABLE tickets DROP COLUMN search_vector")
    op.execute(
        "CREATE INDEX ix_tickets_search ON tickets USING GIN (to_tsvector('english', search_text))"
    )

"""Full-text search over title, description and public comments.

PostgreSQL: a GIN index on the `tsvector` of `search_text`. SQLite: an FTS5
table kept in step with `tickets` by triggers. Both stem English words, so
"syncing" finds "sync".

Revision ID: 20261122_0006
Revises: 20261122_0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261122_0006"
down_revision: str | None = "20261122_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = [
    """CREATE TRIGGER tickets_fts_insert AFTER INSERT ON tickets BEGIN
        INSERT INTO tickets_fts(rowid, search_text) VALUES (new.rowid, new.search_text);
    END""",
    """CREATE TRIGGER tickets_fts_delete AFTER DELETE ON tickets BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
    END""",
    """CREATE TRIGGER tickets_fts_update AFTER UPDATE OF search_text ON tickets BEGIN
        INSERT INTO tickets_fts(tickets_fts, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
        INSERT INTO tickets_fts(rowid, search_text) VALUES (new.rowid, new.search_text);
    END""",
]


def upgrade() -> None:
    op.add_column("tickets", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.execute("UPDATE tickets SET search_text = title || ' ' || description")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_tickets_search ON tickets"
            " USING GIN (to_tsvector('english', search_text))"
        )
        return
    op.execute(
        "CREATE VIRTUAL TABLE tickets_fts USING fts5("
        "search_text, content='tickets', content_rowid='rowid', tokenize='porter unicode61')"
    )
    op.execute("INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')")
    for trigger in _SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_tickets_search")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER tickets_fts_{name}")
        op.execute("DROP TABLE tickets_fts")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("search_text")

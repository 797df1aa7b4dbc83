"""SQLite: new reports are indexed for word search by the write path in one statement per batch
(``app.store.db.SQLITE_INDEX_NEW_WORDS``), not by a per-row trigger: the trigger made each insert
three times as costly once ``reports`` had its dozen indexes. Edits and deletions keep their triggers.

Revision ID: 0006
Revises: 0005
Created: 2026-12-04
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("DROP TRIGGER IF EXISTS reports_fts_insert")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql(
            "CREATE TRIGGER IF NOT EXISTS reports_fts_insert AFTER INSERT ON reports BEGIN "
            "INSERT INTO reports_fts(rowid, description, address) "
            "VALUES (new.rowid, new.description, new.address); END")

"""The console's search indexes (``app/store/search.py``): the reporter's phone by its last nine
digits (both databases), the words of the description and address (SQLite: the FTS5 table
``reports_fts`` and its triggers, filled from the reports there; PostgreSQL: a GIN index).

Revision ID: 0004
Revises: 0003
Created: 2026-12-02
"""
from alembic import op

from app.store import search

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_PHONE = "ix_reports_city_phone_tail"


def upgrade() -> None:
    bind = op.get_bind()
    index = next(i for i in search.db.reports.indexes if i.name == _PHONE)
    index.create(bind, checkfirst=True)
    if bind.dialect.name == "sqlite":
        search.create_sqlite_index(bind)
    else:
        text_index = next(i for i in search.db.reports.indexes if i.name == "ix_reports_text")
        text_index.create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        search.drop_triggers(bind)
        bind.exec_driver_sql("DROP TABLE IF EXISTS reports_fts")
    else:
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_reports_text")
    bind.exec_driver_sql(f"DROP INDEX IF EXISTS {_PHONE}")

"""Baseline: the schema as of 2026-11-26, as ``metadata.create_all`` made it until then.

Databases created before migrations existed are stamped at this revision and upgraded from
here; a new database is created whole from the metadata and stamped at the head.

Revision ID: 0001
Revises:
Created: 2026-11-26
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

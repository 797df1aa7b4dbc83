"""Wall display tokens: revocable credentials for unattended wall screens (``app/auth/displays.py``).

Revision ID: 0002
Revises: 0001
Created: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

from app.store.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An install adopted from before migrations has every table of the code made already.
    if "display_tokens" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "display_tokens",
        sa.Column("display_id", sa.String(16), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("city", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )


def downgrade() -> None:
    op.drop_table("display_tokens")

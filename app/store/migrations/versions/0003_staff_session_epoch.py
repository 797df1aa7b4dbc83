"""staff_users.session_epoch: sessions carry the epoch they were opened in; bumping it ends them.

Sign-out, a new password, disabling and re-enabling an account bump it (``app.auth.users``). The
old lock-out columns (``failed_logins``, ``locked_until``) stay, unused: failed sign-ins are
counted in Redis (``app.auth.throttle``).

Revision ID: 0003
Revises: 0002
Created: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("session_epoch")

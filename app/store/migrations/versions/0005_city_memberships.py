"""staff_memberships: an account works in one or more cities, with a role in each.

Every account gets the membership of the city it was made in, with its role and agency
(``staff_users.city/role/agency``), so nothing changes for a one-city install.

Revision ID: 0005
Revises: 0004
Created: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from app.store.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    # New tables are made from the metadata before revisions run (app.store.migrate).
    if "staff_memberships" not in sa.inspect(bind).get_table_names():
        op.create_table(
            "staff_memberships",
            sa.Column("username", sa.String(40), primary_key=True),
            sa.Column("city", sa.String(20), primary_key=True),
            sa.Column("role", sa.String(20), nullable=False),
            sa.Column("agency", sa.String(40)),
            sa.Column("added_at", UTCDateTime, nullable=False),
        )
    op.execute("INSERT INTO staff_memberships (username, city, role, agency, added_at) "
               "SELECT u.username, u.city, u.role, u.agency, u.created_at FROM staff_users u "
               "WHERE NOT EXISTS (SELECT 1 FROM staff_memberships m "
               "WHERE m.username = u.username AND m.city = u.city)")


def downgrade() -> None:
    op.drop_table("staff_memberships")

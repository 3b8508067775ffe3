"""identity: accounts can be deactivated (`users.active`, true for every existing account)

A deactivated account cannot sign in (password, one-time code, refresh); managers deactivate
workers who leave, and LOMS stops assigning them tasks.

Revision ID: 0004_user_active
Revises: 0003_email_verification
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_user_active"
down_revision = "0003_email_verification"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("users", sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("users", "active")

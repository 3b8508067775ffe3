"""identity: proven addresses (email_verified_at, confirmed_at) and address confirmation tokens

Every account that exists when this runs was made before addresses were proven: it counts as
confirmed and its address as proven, so nobody is locked out. An address is unique only among
accounts that proved it; unproven claims on it no longer keep its owner from registering.

Revision ID: 0003_email_verification
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_email_verification"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # now() is evaluated once for the existing rows (no table rewrite); new rows start NULL.
    for column in ("email_verified_at", "confirmed_at"):
        op.add_column(
            "users", sa.Column(column, sa.DateTime(timezone=True), nullable=True, server_default=sa.func.now())
        )
        op.alter_column("users", column, server_default=None)
    op.drop_index("uq_users_email", table_name="users")
    op.create_index(
        "uq_users_email_verified",
        "users",
        ["email"],
        unique=True,
        postgresql_where=sa.text("email_verified_at IS NOT NULL"),
    )
    op.create_index("ix_users_email", "users", ["email"])

    op.create_table(
        "email_verifications",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_email_verifications"),
        sa.UniqueConstraint("token_hash", name="uq_email_verifications_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_email_verifications_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_email_verifications_user_id", "email_verifications", ["user_id"])


def downgrade() -> None:
    op.drop_table("email_verifications")
    # Unproven duplicates cannot survive the old unique index: drop the accounts that never proved theirs.
    op.execute(
        "DELETE FROM users u WHERE u.email_verified_at IS NULL AND EXISTS "
        "(SELECT 1 FROM users o WHERE o.email = u.email AND o.id <> u.id AND "
        "(o.email_verified_at IS NOT NULL OR o.id < u.id))"
    )
    op.drop_index("ix_users_email", table_name="users")
    op.drop_index("uq_users_email_verified", table_name="users")
    op.create_index("uq_users_email", "users", ["email"], unique=True)
    op.drop_column("users", "confirmed_at")
    op.drop_column("users", "email_verified_at")

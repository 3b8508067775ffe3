"""carts: one cart per user with a version, and its lines

Revision ID: 0002
Revises: 0000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0000"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carts",
        sa.Column("user_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", name="pk_carts"),
    )
    op.create_table(
        "cart_items",
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("sku", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "sku", name="pk_cart_items"),
        sa.ForeignKeyConstraint(["user_id"], ["carts.user_id"], name="fk_cart_items_user_id_carts", ondelete="CASCADE"),
        sa.CheckConstraint("count BETWEEN 1 AND 65535", name="ck_cart_items_count_range"),
        sa.CheckConstraint("sku BETWEEN 1 AND 4294967295", name="ck_cart_items_sku_range"),
    )


def downgrade() -> None:
    op.drop_table("cart_items")
    op.drop_table("carts")

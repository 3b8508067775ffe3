"""shopping: a cart remembers the newest of its versions that an order has taken off it

`carts.ordered_version` (0 for every existing cart): two checkouts of one cart version end with
one order, and the second one to finish must not take that order's lines off the cart again.

Revision ID: 0005_cart_ordered_version
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_cart_ordered_version"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("carts", sa.Column("ordered_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("carts", "ordered_version")

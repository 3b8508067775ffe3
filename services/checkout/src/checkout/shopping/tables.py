"""Carts: one per user, its lines keyed by sku. The version changes with every change of the cart,
so a checkout can name the exact cart it ordered (its idempotency key) and empty only that one."""

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, ForeignKey, Integer, Table, func

from checkout.db_metadata import metadata

carts = Table(
    "carts",
    metadata,
    # No foreign key to users: identity owns that table and its deletions; an orphan cart is harmless.
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False, server_default="1"),
    #: The newest version whose order has been taken off the cart (0: none yet).
    Column("ordered_version", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

cart_items = Table(
    "cart_items",
    metadata,
    Column("user_id", BigInteger, ForeignKey("carts.user_id", ondelete="CASCADE"), primary_key=True),
    Column("sku", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    CheckConstraint("count BETWEEN 1 AND 65535", name="count_range"),
    CheckConstraint("sku BETWEEN 1 AND 4294967295", name="sku_range"),
)

"""loms: warehouses, stocks, orders, order items, reservations, outbox, idempotency keys

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "warehouses",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_warehouses"),
        sa.UniqueConstraint("name", name="uq_warehouses_name"),
    )
    op.create_table(
        "stocks",
        sa.Column("sku", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("warehouse_id", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("sku", "warehouse_id", name="pk_stocks"),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], ondelete="RESTRICT", name="fk_stocks_warehouse_id_warehouses"
        ),
        sa.CheckConstraint("reserved >= 0 AND reserved <= total", name="ck_stocks_reserved_within_total"),
        sa.CheckConstraint("sku BETWEEN 1 AND 4294967295", name="ck_stocks_sku_range"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("total_price", sa.BigInteger, nullable=True),
        sa.Column("payment_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(16), nullable=True),
        sa.Column("shortages", JSONB, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.CheckConstraint(
            "status IN ('new', 'awaiting payment', 'failed', 'paid', 'cancelled', 'completed')",
            name="ck_orders_status_known",
        ),
        sa.CheckConstraint(
            "cancel_reason IS NULL OR cancel_reason IN ('customer', 'timeout', 'staff')",
            name="ck_orders_cancel_reason_known",
        ),
        sa.CheckConstraint("user_id > 0", name="ck_orders_user_id_positive"),
    )
    op.create_index("ix_orders_user_id_id", "orders", ["user_id", "id"])
    op.create_index("ix_orders_status_id", "orders", ["status", "id"])
    op.create_index("ix_orders_new", "orders", ["id"], postgresql_where=sa.text("status = 'new'"))
    op.create_index(
        "ix_orders_awaiting_deadline",
        "orders",
        ["payment_deadline"],
        postgresql_where=sa.text("status = 'awaiting payment'"),
    )
    op.create_table(
        "order_items",
        sa.Column("order_id", sa.BigInteger, nullable=False),
        sa.Column("sku", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("order_id", "sku", name="pk_order_items"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE", name="fk_order_items_order_id_orders"),
        sa.CheckConstraint("count BETWEEN 1 AND 65535", name="ck_order_items_count_range"),
        sa.CheckConstraint("sku BETWEEN 1 AND 4294967295", name="ck_order_items_sku_range"),
        sa.CheckConstraint("price IS NULL OR price BETWEEN 0 AND 4294967295", name="ck_order_items_price_range"),
    )
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.BigInteger, nullable=False),
        sa.Column("sku", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("warehouse_id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="held"),
        sa.PrimaryKeyConstraint("order_id", "sku", "warehouse_id", name="pk_reservations"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], ondelete="CASCADE", name="fk_reservations_order_id_orders"
        ),
        sa.ForeignKeyConstraint(
            ["sku", "warehouse_id"],
            ["stocks.sku", "stocks.warehouse_id"],
            ondelete="RESTRICT",
            name="fk_reservations_stock_stocks",
        ),
        sa.CheckConstraint("count > 0", name="ck_reservations_count_positive"),
        sa.CheckConstraint("state IN ('held', 'written_off', 'released')", name="ck_reservations_state_known"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(400), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="running"),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_body", sa.Text, nullable=True),
        sa.Column("resource_id", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
        sa.CheckConstraint("state IN ('running', 'done')", name="ck_idempotency_keys_state_known"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    for table in ("idempotency_keys", "outbox", "reservations", "order_items", "orders", "stocks", "warehouses"):
        op.drop_table(table)

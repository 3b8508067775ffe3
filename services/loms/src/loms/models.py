"""The LOMS tables. Hot paths query them with SQL text (see `repositories/`); these definitions
are the schema of record for migrations and for the constraints the database enforces."""

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from loms.domain.statuses import CancelReason, OrderStatus, ReservationState, sql_list, sql_literal
from shopcommon.db import naming_metadata
from shopcommon.outbox.table import outbox_table

metadata = naming_metadata()


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({sql_list(values)})"


warehouses = sa.Table(
    "warehouses",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

stocks = sa.Table(
    "stocks",
    metadata,
    # (sku, warehouse_id) is also the order every transaction locks stock rows in.
    sa.Column("sku", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("warehouse_id", sa.BigInteger, sa.ForeignKey("warehouses.id", ondelete="RESTRICT"), primary_key=True),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("reserved >= 0 AND reserved <= total", name="reserved_within_total"),
    sa.CheckConstraint("sku BETWEEN 1 AND 4294967295", name="sku_range"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("total_price", sa.BigInteger, nullable=True),
    sa.Column("payment_deadline", sa.DateTime(timezone=True), nullable=True),
    sa.Column("cancel_reason", sa.String(16), nullable=True),
    #: `[{sku, requested, available}]` of a failed reservation, so callers can name what was short.
    sa.Column("shortages", JSONB, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(_in("status", OrderStatus), name="status_known"),
    sa.CheckConstraint(f"cancel_reason IS NULL OR {_in('cancel_reason', CancelReason)}", name="cancel_reason_known"),
    sa.CheckConstraint("user_id > 0", name="user_id_positive"),
    sa.Index("ix_orders_user_id_id", "user_id", "id"),
    sa.Index("ix_orders_status_id", "status", "id"),
    # The intake queue and the expiry scan each read a small partial index.
    sa.Index("ix_orders_new", "id", postgresql_where=sa.text(f"status = {sql_literal(OrderStatus.NEW)}")),
    sa.Index(
        "ix_orders_awaiting_deadline",
        "payment_deadline",
        postgresql_where=sa.text(f"status = {sql_literal(OrderStatus.AWAITING_PAYMENT)}"),
    ),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sku", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("price", sa.BigInteger, nullable=True),
    sa.CheckConstraint("count BETWEEN 1 AND 65535", name="count_range"),
    sa.CheckConstraint("sku BETWEEN 1 AND 4294967295", name="sku_range"),
    sa.CheckConstraint("price IS NULL OR price BETWEEN 0 AND 4294967295", name="price_range"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sku", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("warehouse_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default=ReservationState.HELD.value),
    sa.ForeignKeyConstraint(
        ["sku", "warehouse_id"],
        ["stocks.sku", "stocks.warehouse_id"],
        ondelete="RESTRICT",
        name="fk_reservations_stock_stocks",
    ),
    sa.CheckConstraint("count > 0", name="count_positive"),
    sa.CheckConstraint(_in("state", ReservationState), name="state_known"),
)

outbox = outbox_table(metadata)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    #: The caller and the route: one key means nothing across callers or endpoints.
    sa.Column("scope", sa.String(400), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default="running"),
    sa.Column("response_status", sa.Integer, nullable=True),
    #: The exact bytes of the first answer, replayed as they were.
    sa.Column("response_body", sa.Text, nullable=True),
    #: What the first request created (an order id), so a retry after a crash finds it.
    sa.Column("resource_id", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("state IN ('running', 'done')", name="state_known"),
    sa.Index("ix_idempotency_keys_created_at", "created_at"),
)

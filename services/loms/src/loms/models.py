"""The LOMS tables. Hot paths query them with SQL text (see `repositories/`); these definitions
are the schema of record for migrations and for the constraints the database enforces."""

from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from loms.domain.statuses import CancelReason, OrderStatus, ReservationState, sql_list, sql_literal
from shopcommon.db import naming_metadata
from shopcommon.outbox.table import outbox_table

metadata = naming_metadata()


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({sql_list(values)})"


warehouses = Table(
    "warehouses",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

stocks = Table(
    "stocks",
    metadata,
    # (sku, warehouse_id) is also the order every transaction locks stock rows in.
    Column("sku", BigInteger, primary_key=True, autoincrement=False),
    Column("warehouse_id", BigInteger, ForeignKey("warehouses.id", ondelete="RESTRICT"), primary_key=True),
    Column("total", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("reserved >= 0 AND reserved <= total", name="reserved_within_total"),
    CheckConstraint("sku BETWEEN 1 AND 4294967295", name="sku_range"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("total_price", BigInteger, nullable=True),
    Column("payment_deadline", DateTime(timezone=True), nullable=True),
    Column("cancel_reason", String(16), nullable=True),
    #: `[{sku, requested, available}]` of a failed reservation, so callers can name what was short.
    Column("shortages", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_in("status", OrderStatus), name="status_known"),
    CheckConstraint(f"cancel_reason IS NULL OR {_in('cancel_reason', CancelReason)}", name="cancel_reason_known"),
    CheckConstraint("user_id > 0", name="user_id_positive"),
    Index("ix_orders_user_id_id", "user_id", "id"),
    Index("ix_orders_status_id", "status", "id"),
    # The intake queue and the expiry scan each read a small partial index.
    Index("ix_orders_new", "id", postgresql_where=text(f"status = {sql_literal(OrderStatus.NEW)}")),
    Index(
        "ix_orders_awaiting_deadline",
        "payment_deadline",
        postgresql_where=text(f"status = {sql_literal(OrderStatus.AWAITING_PAYMENT)}"),
    ),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Column("price", BigInteger, nullable=True),
    CheckConstraint("count BETWEEN 1 AND 65535", name="count_range"),
    CheckConstraint("sku BETWEEN 1 AND 4294967295", name="sku_range"),
    CheckConstraint("price IS NULL OR price BETWEEN 0 AND 4294967295", name="price_range"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", BigInteger, primary_key=True, autoincrement=False),
    Column("warehouse_id", BigInteger, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, server_default=ReservationState.HELD.value),
    ForeignKeyConstraint(
        ["sku", "warehouse_id"],
        ["stocks.sku", "stocks.warehouse_id"],
        ondelete="RESTRICT",
        name="fk_reservations_stock_stocks",
    ),
    CheckConstraint("count > 0", name="count_positive"),
    CheckConstraint(_in("state", ReservationState), name="state_known"),
)

outbox = outbox_table(metadata)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    #: The caller and the route: one key means nothing across callers or endpoints.
    Column("scope", String(400), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False, server_default="running"),
    Column("response_status", Integer, nullable=True),
    #: The exact bytes of the first answer, replayed as they were.
    Column("response_body", Text, nullable=True),
    #: What the first request created (an order id), so a retry after a crash finds it.
    Column("resource_id", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("state IN ('running', 'done')", name="state_known"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

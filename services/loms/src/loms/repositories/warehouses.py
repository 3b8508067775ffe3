"""Warehouses and the managers' view of their stock rows (total and reserved)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

_CREATE = text("""
    INSERT INTO warehouses (name) VALUES (:name) ON CONFLICT (name) DO NOTHING
    RETURNING id, name, created_at
""")
_LIST = text("SELECT id, name, created_at FROM warehouses ORDER BY id")
_GET = text("SELECT id, name, created_at FROM warehouses WHERE id = :id")


async def create(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    """The new warehouse, or None when the name is taken."""
    row = (await conn.execute(_CREATE, {"name": name})).first()
    return dict(row._mapping) if row else None


async def list_all(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in (await conn.execute(_LIST)).all()]


async def get(conn: AsyncConnection, warehouse_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(_GET, {"id": warehouse_id})).first()
    return dict(row._mapping) if row else None


_ENSURE_ROW = text("""
    INSERT INTO stocks (sku, warehouse_id, total, reserved) VALUES (:sku, :warehouse_id, 0, 0)
    ON CONFLICT (sku, warehouse_id) DO NOTHING RETURNING sku
""")
_LOCK_ROW = text("""
    SELECT sku, warehouse_id, total, reserved FROM stocks
    WHERE sku = :sku AND warehouse_id = :warehouse_id FOR UPDATE
""")
_UPSERT_TOTAL = text("""
    INSERT INTO stocks (sku, warehouse_id, total, reserved) VALUES (:sku, :warehouse_id, :total, 0)
    ON CONFLICT (sku, warehouse_id) DO UPDATE SET total = EXCLUDED.total
    RETURNING sku, warehouse_id, total, reserved
""")
_ROWS = text("""
    SELECT sku, warehouse_id, total, reserved FROM stocks
    WHERE warehouse_id = :warehouse_id AND sku > :after
        AND (CAST(:skus AS bigint[]) IS NULL OR sku = ANY(CAST(:skus AS bigint[])))
    ORDER BY sku LIMIT :limit
""")


async def lock_row(conn: AsyncConnection, *, warehouse_id: int, sku: int) -> dict[str, Any] | None:
    """The row, locked until the transaction ends; None when it did not exist. A missing row is
    made (empty) first, so there is always a row to lock: two changes of a new row take turns
    (each locked nothing and the second overwrote the first's total)."""
    params = {"sku": sku, "warehouse_id": warehouse_id}
    made = (await conn.execute(_ENSURE_ROW, params)).first() is not None
    row = (await conn.execute(_LOCK_ROW, params)).one()
    return None if made else dict(row._mapping)


async def write_total(conn: AsyncConnection, *, warehouse_id: int, sku: int, total: int) -> dict[str, Any] | None:
    """Set the row's total; None when the database refuses it (below what is reserved)."""
    try:
        async with conn.begin_nested():
            row = (await conn.execute(_UPSERT_TOTAL, {"sku": sku, "warehouse_id": warehouse_id, "total": total})).one()
    except IntegrityError:
        return None
    return dict(row._mapping)


async def rows(
    conn: AsyncConnection, *, warehouse_id: int, after_sku: int, limit: int, skus: list[int] | None = None
) -> list[dict[str, Any]]:
    """Rows in sku order after `after_sku`, only those of `skus` when given."""
    params = {"warehouse_id": warehouse_id, "after": after_sku, "limit": limit, "skus": skus}
    return [dict(r._mapping) for r in (await conn.execute(_ROWS, params)).all()]

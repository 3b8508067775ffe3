"""Managers administer warehouses and stock levels. A total never drops below what is reserved.
Each change of a total is published (`stock.changed`, through the outbox in the same transaction):
managers' open stock pages follow it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from loms.domain.events import stock_changed
from loms.repositories import warehouses
from loms.repositories.order_events import write_stock_event
from loms.services.clock import utcnow
from shopcommon.pagination import split_page
from shopcommon.problems import Conflict, NotFound

MAX_TOTAL = 4_294_967_295


class StockBelowReserved(Conflict):
    title, slug = "Stock cannot drop below what is reserved", "stock-below-reserved"


def stock_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "available": row["total"] - row["reserved"]}


async def list_warehouses(conn: AsyncConnection) -> list[dict[str, Any]]:
    return await warehouses.list_all(conn)


async def create_warehouse(conn: AsyncConnection, *, name: str) -> dict[str, Any]:
    created = await warehouses.create(conn, name)
    if created is None:
        raise Conflict(f"A warehouse named {name!r} exists already.", slug="warehouse-exists")
    return created


async def require_warehouse(conn: AsyncConnection, warehouse_id: int) -> dict[str, Any]:
    found = await warehouses.get(conn, warehouse_id)
    if found is None:
        raise NotFound(f"Warehouse {warehouse_id} not found", slug="warehouse-not-found")
    return found


async def set_total(conn: AsyncConnection, *, warehouse_id: int, sku: int, total: int, topic: str) -> dict[str, Any]:
    await require_warehouse(conn, warehouse_id)
    current = await warehouses.lock_row(conn, warehouse_id=warehouse_id, sku=sku)
    return await _write(conn, warehouse_id=warehouse_id, sku=sku, total=total, current=current, topic=topic)


async def adjust_total(conn: AsyncConnection, *, warehouse_id: int, sku: int, delta: int, topic: str) -> dict[str, Any]:
    """Receive (+) or remove (-) units; the result must stay between reserved and the uint32 range."""
    await require_warehouse(conn, warehouse_id)
    current = await warehouses.lock_row(conn, warehouse_id=warehouse_id, sku=sku)
    total = (current["total"] if current else 0) + delta
    if total > MAX_TOTAL:
        raise Conflict(f"sku {sku} would hold {total} units in warehouse {warehouse_id}; at most {MAX_TOTAL}.")
    return await _write(conn, warehouse_id=warehouse_id, sku=sku, total=total, current=current, topic=topic)


async def _write(
    conn: AsyncConnection, *, warehouse_id: int, sku: int, total: int, current: dict[str, Any] | None, topic: str
) -> dict[str, Any]:
    """Write the total and, when it changed, its event."""
    reserved = current["reserved"] if current else 0
    if total < reserved:
        raise StockBelowReserved(
            f"{reserved} units of sku {sku} are reserved in warehouse {warehouse_id}; the total cannot be {total}.",
            reserved=reserved,
        )
    written = await warehouses.write_total(conn, warehouse_id=warehouse_id, sku=sku, total=total)
    if written is None:
        raise StockBelowReserved(f"Units of sku {sku} were reserved meanwhile; try again.")
    previous = current["total"] if current else None
    if previous != total:
        event = stock_changed(warehouse_id=warehouse_id, sku=sku, total=total, reserved=written["reserved"],
                              previous_total=previous, occurred_at=utcnow())  # fmt: skip
        await write_stock_event(conn, topic, event)
    return stock_row(written)


async def warehouse_stock(conn: AsyncConnection, *, warehouse_id: int, after_sku: int, limit: int) -> dict[str, Any]:
    await require_warehouse(conn, warehouse_id)
    rows = await warehouses.rows(conn, warehouse_id=warehouse_id, after_sku=after_sku, limit=limit + 1)
    found, next_after = split_page(rows, limit, lambda row: row["sku"])
    return {"items": [stock_row(r) for r in found], "next_after": next_after}

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
from shopcommon.pagination import After, decode_cursor, encode_cursor, split_page
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


class StockChanged(Conflict):
    title, slug = "The stock changed meanwhile", "stock-changed"


async def set_total(
    conn: AsyncConnection, *, warehouse_id: int, sku: int, total: int, topic: str, expected: int | None = None
) -> dict[str, Any]:
    """`expected`: the total the caller last saw; 409 `stock-changed` when it is no longer the total
    (a sale or another manager's change since), so the caller's count does not undo theirs."""
    await require_warehouse(conn, warehouse_id)
    current = await warehouses.lock_row(conn, warehouse_id=warehouse_id, sku=sku)
    now = current["total"] if current else 0
    if expected is not None and expected != now:
        raise StockChanged(
            f"Warehouse {warehouse_id} holds {now} of sku {sku} now, not the {expected} expected: it changed "
            "meanwhile.",
            total=now,
            reserved=current["reserved"] if current else 0,
        )
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


async def warehouse_stock(
    conn: AsyncConnection, *, warehouse_id: int, cursor: str | None, limit: int, skus: list[int] | None = None
) -> dict[str, Any]:
    """A page of the warehouse's rows in sku order (`?limit&cursor` -> `{items, next_cursor}`), only
    those of `skus` when given."""
    position = decode_cursor(cursor, After)
    await require_warehouse(conn, warehouse_id)
    after_sku = position.after if position else 0
    rows = await warehouses.rows(conn, warehouse_id=warehouse_id, after_sku=after_sku, limit=limit + 1, skus=skus)
    found, last = split_page(rows, limit, lambda row: row["sku"])
    next_cursor = None if last is None else encode_cursor(After(after=last))
    return {"items": [stock_row(r) for r in found], "next_cursor": next_cursor}

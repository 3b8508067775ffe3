"""Reads: orders (their owner or staff only) and what can still be bought."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from loms.domain.errors import OrderNotFound
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus
from loms.repositories import orders, stocks, tasks
from shopcommon.auth import Principal, Scope
from shopcommon.pagination import newest_first
from shopcommon.problems import Forbidden


async def get_order(conn: AsyncConnection, *, caller: Principal, order_id: int) -> Order:
    caller.ensure_scope(Scope.ORDERS_READ)
    order = await orders.get(conn, order_id)
    if order is None or not caller.can_act_for(order.user_id, Scope.ORDERS_READ):
        raise OrderNotFound(order_id)
    found = await tasks.of_orders(conn, [order.id])
    return replace(order, tasks=tuple(t.as_ref() for t in found[order.id]))


async def list_orders(
    conn: AsyncConnection,
    *,
    caller: Principal,
    user_id: int | None,
    status: OrderStatus | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Newest first. Customers see their own orders only; staff everyone's, optionally one user's."""
    caller.ensure_scope(Scope.ORDERS_READ)
    if not caller.acts_for_anyone(Scope.ORDERS_READ):
        if user_id is not None and user_id != caller.user_id:
            raise Forbidden("Customers list only their own orders.")
        user_id = caller.user_id
    found, next_cursor = await newest_first(
        lambda before, n: orders.page(conn, user_id=user_id, status=status, before_id=before, limit=n),
        cursor,
        limit,
        lambda order: order.id,
    )
    by_order = await tasks.of_orders(conn, [o.id for o in found])
    return {
        "items": [replace(o, tasks=tuple(t.as_ref() for t in by_order[o.id])).as_wire() for o in found],
        "next_cursor": next_cursor,
    }


async def stock_levels(conn: AsyncConnection, skus: Sequence[int]) -> list[dict[str, Any]]:
    """Per sku, in the order asked: `{sku, stocks: [{warehouse_id, count}], total_available}`."""
    wanted = list(dict.fromkeys(skus))
    levels = await stocks.available(conn, wanted)
    return [
        {
            "sku": sku,
            "stocks": [{"warehouse_id": wh, "count": count} for wh, count in levels[sku]],
            "total_available": sum(count for _, count in levels[sku]),
        }
        for sku in wanted
    ]

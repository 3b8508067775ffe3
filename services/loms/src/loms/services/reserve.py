"""Reserving stock for a `new` order: all lines or none, in one transaction.

Whoever reserves first claims the order row (`FOR UPDATE SKIP LOCKED` while `new`): the create
request right after its commit, or an intake worker for whatever is left. Only one ever wins.
Then the stock rows of its skus are locked in (sku, warehouse) order, the allocation is worked
out in Python and written back with the status change and its event in one statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from loms.config import Settings
from loms.domain.allocation import Line, allocate
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus
from loms.repositories import orders, stocks
from loms.services.clock import utcnow

OnSettled = Callable[[AsyncConnection, Order], Awaitable[None]]


async def reserve_locked(conn: AsyncConnection, order: Order, *, settings: Settings,
                         request_id: str | None) -> Order:
    """Reserve an order the caller holds locked while `new`; returns it settled."""
    levels = await stocks.lock_levels(conn, [i.sku for i in order.items])
    result = allocate([Line(i.sku, i.count) for i in order.items], levels)
    now = utcnow()
    if result.ok:
        deadline = now + timedelta(seconds=settings.payment_timeout)
        event = order.change_event(OrderStatus.AWAITING_PAYMENT, now, payment_deadline=deadline)
        await stocks.reserve(conn, order_id=order.id, allocations=result.allocations, deadline=deadline, now=now,
                             event=event, topic=settings.order_events_topic, request_id=request_id)
        return replace(order, status=OrderStatus.AWAITING_PAYMENT, payment_deadline=deadline, updated_at=now)
    event = order.change_event(OrderStatus.FAILED, now)
    await stocks.fail(conn, order_id=order.id, shortages=result.shortages, now=now, event=event,
                      topic=settings.order_events_topic, request_id=request_id)
    return replace(order, status=OrderStatus.FAILED, updated_at=now,
                   shortages=[s.as_dict() for s in result.shortages])


async def reserve_if_new(engine: AsyncEngine, order: Order, *, settings: Settings, request_id: str | None,
                         on_settled: OnSettled | None = None) -> Order | None:
    """The create request's own attempt; None when someone else holds or settled the order."""
    async with engine.begin() as conn:
        if not await orders.claim_new(conn, order.id):
            return None
        settled = await reserve_locked(conn, order, settings=settings, request_id=request_id)
        if on_settled is not None:
            await on_settled(conn, settled)
        return settled


async def reserve_next(engine: AsyncEngine, *, settings: Settings) -> Order | None:
    """The intake worker's step: the oldest `new` order nobody holds; None when there is none."""
    grace = settings.intake_grace if settings.inline_reservation else 0.0
    async with engine.begin() as conn:
        order = await orders.claim_next_new(conn, grace)
        if order is None:
            return None
        return await reserve_locked(conn, order, settings=settings, request_id=None)

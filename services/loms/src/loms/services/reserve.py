"""Reserving stock for a `new` order: all lines or none, in one transaction.

Whoever reserves first claims the order row (`FOR UPDATE SKIP LOCKED` while `new`): the create
request right after its commit, or an intake worker for whatever is left. Only one ever wins.
Then the stock rows of its skus are locked in (sku, warehouse) order, the allocation is worked
out in Python and written back with the status change and its event in one statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from loms import pg
from loms.config import Settings
from loms.domain.allocation import Line, StockLevel, allocate
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus
from loms.repositories import orders, reservations, stocks
from loms.repositories.idempotency import Finish
from loms.services.clock import utcnow

#: The idempotency answer to store with the outcome, given the settled order.
AnswerFor = Callable[[Order], Finish]


async def reserve_locked(
    conn: asyncpg.Connection,
    order: Order,
    levels: Sequence[StockLevel],
    *,
    settings: Settings,
    request_id: str | None,
    answer_for: AnswerFor | None = None,
    notify: bool = True,
) -> Order:
    """Reserve an order the caller holds locked while `new`, its stock rows locked too; without
    `notify` the caller wakes the relay itself after the commit."""
    result = allocate([Line(i.sku, i.count) for i in order.items], levels)
    now = utcnow()
    topic = settings.order_events_topic
    if result.ok:
        deadline = now + timedelta(seconds=settings.payment_timeout)
        settled = replace(order, status=OrderStatus.AWAITING_PAYMENT, payment_deadline=deadline, updated_at=now)
        await reservations.reserve(
            conn,
            order_id=order.id,
            allocations=result.allocations,
            deadline=deadline,
            now=now,
            event=order.change_event(OrderStatus.AWAITING_PAYMENT, now, payment_deadline=deadline),
            topic=topic,
            request_id=request_id,
            finish=answer_for(settled) if answer_for else None,
            notify=notify,
        )
        return settled
    settled = replace(
        order, status=OrderStatus.FAILED, updated_at=now, shortages=[s.as_dict() for s in result.shortages]
    )
    await reservations.fail(
        conn,
        order_id=order.id,
        shortages=result.shortages,
        now=now,
        event=order.change_event(OrderStatus.FAILED, now),
        topic=topic,
        request_id=request_id,
        finish=answer_for(settled) if answer_for else None,
        notify=notify,
    )
    return settled


async def reserve_if_new(
    engine: AsyncEngine,
    order: Order,
    *,
    settings: Settings,
    request_id: str | None,
    answer_for: AnswerFor | None = None,
    wake_relay: Callable[[], None] | None = None,
) -> Order | None:
    """The create request's own attempt; None when someone else holds or settled the order.
    With `wake_relay` (this process runs a relay) the commit sends no NOTIFY; it is called instead."""
    async with pg.transaction(engine) as conn:
        claim = await reservations.claim_and_lock(conn, order_id=order.id, skus=[i.sku for i in order.items])
        if not claim.claimed:
            return None
        settled = await reserve_locked(
            conn,
            order,
            claim.levels,
            settings=settings,
            request_id=request_id,
            answer_for=answer_for,
            notify=wake_relay is None,
        )
    if wake_relay is not None:
        wake_relay()
    return settled


async def reserve_next(engine: AsyncEngine, *, settings: Settings) -> Order | None:
    """The intake worker's step: the oldest `new` order nobody holds; None when there is none."""
    grace = settings.intake_grace if settings.inline_reservation else 0.0
    async with pg.transaction(engine) as conn:
        order = await orders.claim_next_new(conn, grace)
        if order is None:
            return None
        levels = await stocks.lock_levels(conn, [i.sku for i in order.items])
        return await reserve_locked(conn, order, levels, settings=settings, request_id=None)

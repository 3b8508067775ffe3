"""Reserving stock for a `new` order: all lines or none, in one transaction.

Whoever reserves first claims the order row (`FOR UPDATE SKIP LOCKED` while `new`): the create
request right after its commit, or an intake worker for whatever is left. Only one ever wins.
The claim, the stock locks (in (sku, warehouse) order), the greedy allocation and the write of
the outcome with its event are one transaction of two statements (`repositories/reservations.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from loms import pg
from loms.config import Settings
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus
from loms.repositories import orders, reservations
from loms.repositories.idempotency import Finish
from loms.services.clock import utcnow

#: The idempotency answer to store with the outcome, given the settled order.
AnswerFor = Callable[[Order], Finish]


async def reserve(
    conn: asyncpg.Connection,
    order: Order,
    *,
    settings: Settings,
    request_id: str | None,
    answer_for: AnswerFor | None = None,
    notify: bool = True,
) -> Order | None:
    """Reserve `order` if it is still `new` and nobody else holds it: the settled order, or None.
    Without `notify` the caller wakes the relay itself after the commit."""
    now = utcnow()
    deadline = now + timedelta(seconds=settings.payment_timeout)
    reserved = replace(order, status=OrderStatus.AWAITING_PAYMENT, payment_deadline=deadline, updated_at=now)
    outcome = await reservations.reserve_order(
        conn,
        order_id=order.id,
        items=order.items,
        now=now,
        deadline=deadline,
        topic=settings.order_events_topic,
        request_id=request_id,
        reserved_event=order.change_event(OrderStatus.AWAITING_PAYMENT, now, payment_deadline=deadline),
        reserved_answer=answer_for(reserved) if answer_for else None,
        notify=notify,
    )
    if outcome is None:
        return None
    if outcome.status == OrderStatus.AWAITING_PAYMENT:
        return reserved
    return replace(order, status=OrderStatus.FAILED, updated_at=now, shortages=outcome.shortages)


async def reserve_if_new(
    conn: asyncpg.Connection,
    order: Order,
    *,
    settings: Settings,
    request_id: str | None,
    answer_for: AnswerFor | None = None,
    wake_relay: Callable[[], None] | None = None,
) -> Order | None:
    """The create request's own attempt, a transaction of its own on `conn`; None when someone
    else holds or settled the order. With `wake_relay` (this process runs a relay) the commit
    sends no NOTIFY; it is called instead."""
    settled = await reserve(
        conn, order, settings=settings, request_id=request_id, answer_for=answer_for, notify=wake_relay is None
    )
    if settled is not None and wake_relay is not None:
        wake_relay()
    return settled


async def reserve_next(engine: AsyncEngine, *, settings: Settings) -> Order | None:
    """The intake worker's step: the oldest `new` order nobody holds; None when there is none."""
    grace = settings.intake_grace if settings.inline_reservation else 0.0
    async with pg.transaction(engine) as conn:
        order = await orders.claim_next_new(conn, grace)
        if order is None:
            return None
        return await reserve(conn, order, settings=settings, request_id=None)

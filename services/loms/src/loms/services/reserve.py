"""Reserving stock for a `new` order (the intake worker's use case): all lines or none.

The intake worker claims the oldest `new` order nobody holds (`FOR UPDATE SKIP LOCKED`), so any
number of workers never reserve one order twice. The claim, the stock locks (in (sku, warehouse)
order), the greedy allocation and the write of the outcome with its event are one transaction of
two statements (`repositories/reservations.py`); the outcome was built before (`domain/outcome.py`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from loms import pg
from loms.config import Settings
from loms.domain.order import Order
from loms.domain.outcome import reservation_outcomes
from loms.repositories import orders, reservations
from loms.services.clock import utcnow


async def reserve_next(engine: AsyncEngine, *, settings: Settings) -> Order | None:
    """The oldest `new` order nobody holds, reserved or failed; None when there is none."""
    async with pg.driver_transaction(engine) as conn:
        order = await orders.claim_next_new(conn)
        if order is None:
            return None
        outcomes = reservation_outcomes(order, utcnow(), settings.payment_timeout)
        outcome = await reservations.reserve_order(
            conn,
            order_id=order.id,
            items=order.items,
            now=outcomes.reserved.updated_at,
            deadline=outcomes.deadline,
            topic=settings.order_events_topic,
            reserved_event=outcomes.reserved_event,
            failed_event=outcomes.failed_event,
        )
        if outcome is None:  # not while this transaction holds the order's lock
            return None
        return outcomes.settled(outcome.shortages)

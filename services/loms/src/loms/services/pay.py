"""orderPayed: reserved units are written off (total and reserved both drop); the order is `paid`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from loms.config import Settings
from loms.domain.errors import OrderNotFound, PaymentDeadlinePassed
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus
from loms.domain.transitions import ensure_can_change
from loms.repositories import orders, stocks
from loms.services.clock import utcnow
from shopcommon.auth import Principal, Scope


async def load_own_order(conn: AsyncConnection, caller: Principal, order_id: int) -> Order:
    """The order locked for a change; another user's order is reported missing."""
    caller.ensure_scope(Scope.ORDERS_WRITE)
    order = await orders.lock(conn, order_id)
    if order is None or not caller.can_act_for(order.user_id, Scope.ORDERS_WRITE):
        raise OrderNotFound(order_id)
    return order


async def pay_order(
    conn: AsyncConnection, *, settings: Settings, caller: Principal, order_id: int, request_id: str | None
) -> Order:
    order = await load_own_order(conn, caller, order_id)
    ensure_can_change(order.id, order.status, OrderStatus.PAID)
    now = utcnow()
    if order.payment_deadline is not None and order.payment_deadline <= now:
        # The expiry worker cancels it within seconds; taking the money now would race it.
        raise PaymentDeadlinePassed(order.id)
    await stocks.settle_held(conn, [order.id], write_off=True)
    (paid,) = await orders.move(
        conn, [order], OrderStatus.PAID, now=now, topic=settings.order_events_topic, request_id=request_id
    )
    return paid

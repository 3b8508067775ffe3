"""cancelOrder and expiry: reservations released, the order `cancelled` with its reason."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from loms.config import Settings
from loms.domain.order import Order
from loms.domain.statuses import CancelReason, OrderStatus
from loms.domain.transitions import ensure_can_change
from loms.repositories import orders, stocks
from loms.services.clock import utcnow
from loms.services.pay import load_own_order
from shopcommon.auth import Principal, Role
from shopcommon.problems import Forbidden


def reason_for(caller: Principal, requested: CancelReason | None) -> CancelReason:
    """Customers cancel as `customer`; managers default to `staff`; services (checkout acting for a
    customer) default to `customer` and may say `staff`."""
    if caller.role == Role.MANAGER:
        return requested or CancelReason.STAFF
    if caller.role == Role.SERVICE:
        return requested or CancelReason.CUSTOMER
    if requested not in (None, CancelReason.CUSTOMER):
        raise Forbidden("Customers cancel their orders with the reason `customer` only.")
    return CancelReason.CUSTOMER


async def cancel_order(
    conn: AsyncConnection,
    *,
    settings: Settings,
    caller: Principal,
    order_id: int,
    reason: CancelReason | None,
    request_id: str | None,
) -> Order:
    why = reason_for(caller, reason)
    order = await load_own_order(conn, caller, order_id)
    ensure_can_change(order.id, order.status, OrderStatus.CANCELLED)
    (cancelled,) = await cancel_locked(conn, [order], reason=why, settings=settings, request_id=request_id)
    return cancelled


async def cancel_locked(
    conn: AsyncConnection, locked: Sequence[Order], *, reason: CancelReason, settings: Settings, request_id: str | None
) -> list[Order]:
    """Release what the (locked, cancellable) orders hold and cancel them, one event each."""
    now = utcnow()
    await stocks.settle_held(conn, [o.id for o in locked], write_off=False)
    return await orders.move(
        conn,
        locked,
        OrderStatus.CANCELLED,
        now=now,
        topic=settings.order_events_topic,
        request_id=request_id,
        reason=reason,
    )

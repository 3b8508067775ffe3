"""LOMS's events, shaped exactly as CONTRACT.md and asyncapi/events.yaml fix them: `order.status_changed`
and `stock.changed` (a manager set or adjusted a stock total). Task events are built in `domain.tasks`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from loms.domain.items import OrderItem
from loms.domain.statuses import CancelReason, OrderStatus
from shopcommon.events import envelope

EVENT_TYPE = "order.status_changed"
STOCK_EVENT_TYPE = "stock.changed"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def status_changed(
    *,
    order_id: int,
    user_id: int,
    status: OrderStatus,
    previous_status: OrderStatus | None,
    items: Sequence[OrderItem],
    total_price: int | None,
    occurred_at: datetime,
    payment_deadline: datetime | None = None,
    reason: CancelReason | None = None,
) -> dict[str, Any]:
    event = envelope(
        EVENT_TYPE,
        occurred_at,
        order_id=order_id,
        user_id=user_id,
        status=str(status),
        previous_status=str(previous_status) if previous_status is not None else None,
        items=[i.as_dict() for i in items],
        total_price=total_price,
    )
    if status == OrderStatus.AWAITING_PAYMENT:
        if payment_deadline is None:
            raise ValueError("an order awaiting payment has a payment deadline")
        event["payment_deadline"] = iso(payment_deadline)
    if status == OrderStatus.CANCELLED:
        if reason is None:
            raise ValueError("a cancelled order has a reason")
        event["reason"] = str(reason)
    return event


def recorded(
    *, order_id: int, user_id: int, items: Sequence[OrderItem], total_price: int | None, occurred_at: datetime
) -> dict[str, Any]:
    """The first event of an order: recorded as `new`, from no status."""
    return status_changed(
        order_id=order_id,
        user_id=user_id,
        status=OrderStatus.NEW,
        previous_status=None,
        items=items,
        total_price=total_price,
        occurred_at=occurred_at,
    )


def stock_changed(
    *, warehouse_id: int, sku: int, total: int, reserved: int, previous_total: int | None, occurred_at: datetime
) -> dict[str, Any]:
    """A manager set or adjusted a stock row's total (`previous_total`: None for a new row).
    Reservations change `reserved` without one: the orders' own events say what they took."""
    return envelope(
        STOCK_EVENT_TYPE,
        occurred_at,
        warehouse_id=warehouse_id,
        sku=sku,
        total=total,
        reserved=reserved,
        previous_total=previous_total,
    )

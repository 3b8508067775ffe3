"""What reserving a `new` order can come to, built before the statement that decides.

The reservation is decided by one SQL statement under its stock locks (`repositories/`): all
lines or none. Everything written for either outcome is built here first, both ways; the
statement picks one and adds what only it knows, the shortages of a failed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from loms.domain.items import OrderItem, total_price
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus


@dataclass(frozen=True)
class ReservationOutcomes:
    """An order still `new`, and the two ways its reservation ends."""

    new: Order
    #: `awaiting payment`, with its payment deadline.
    reserved: Order
    #: `failed`; its shortages are known only once the statement has looked at the stock.
    failed: Order
    #: The `order.status_changed` event of each.
    reserved_event: dict[str, Any]
    failed_event: dict[str, Any]

    @property
    def deadline(self) -> datetime:
        assert self.reserved.payment_deadline is not None
        return self.reserved.payment_deadline

    def settled(self, shortages: list[dict[str, int]] | None) -> Order:
        """The order as the statement settled it: reserved without shortages, else failed with them."""
        if shortages is None:
            return self.reserved
        return replace(self.failed, shortages=shortages)


def reservation_outcomes(order: Order, now: datetime, payment_timeout: float) -> ReservationOutcomes:
    """Both outcomes of reserving `order` (`new`) at `now`; a reserved order may wait
    `payment_timeout` seconds for its payment."""
    deadline = now + timedelta(seconds=payment_timeout)
    return ReservationOutcomes(
        new=order,
        reserved=replace(order, status=OrderStatus.AWAITING_PAYMENT, payment_deadline=deadline, updated_at=now),
        failed=replace(order, status=OrderStatus.FAILED, updated_at=now),
        reserved_event=order.change_event(OrderStatus.AWAITING_PAYMENT, now, payment_deadline=deadline),
        failed_event=order.change_event(OrderStatus.FAILED, now),
    )


def new_order(order_id: int, user_id: int, items: Sequence[OrderItem], now: datetime) -> Order:
    """An order as it is recorded: `new`, priced when every line has a price."""
    lines = tuple(items)
    return Order(order_id, user_id, OrderStatus.NEW, lines, total_price(lines), now, now)

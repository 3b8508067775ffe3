"""The statuses of an order as LOMS reports them: checkout's one spelling of them."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    NEW = "new"
    AWAITING_PAYMENT = "awaiting payment"
    FAILED = "failed"
    PAID = "paid"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


#: Statuses that mean the order holds (or held) its stock: the cart has become this order.
PLACED = frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.COMPLETED})
#: A query parameter naming one status.
STATUS_PATTERN = "^(" + "|".join(status.value for status in OrderStatus) + ")$"

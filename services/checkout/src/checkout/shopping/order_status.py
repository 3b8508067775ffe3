"""The statuses of an order as LOMS reports them (`shopcommon.statuses`) and what checkout makes of them."""

from __future__ import annotations

from shopcommon.statuses import OrderStatus

__all__ = ["PLACED", "STATUS_PATTERN", "OrderStatus"]


#: Statuses that mean the order holds (or held) its stock: the cart has become this order.
PLACED = frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.COMPLETED})
#: A query parameter naming one status.
STATUS_PATTERN = "^(" + "|".join(status.value for status in OrderStatus) + ")$"

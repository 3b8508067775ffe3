"""Which status changes are allowed: the route256 seed's life cycle of an order."""

from loms.domain.errors import InvalidTransition
from loms.domain.statuses import OrderStatus

S = OrderStatus

ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.NEW: frozenset({S.AWAITING_PAYMENT, S.FAILED, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.COMPLETED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
}

ACTION_WORDS = {
    S.PAID: "paid",
    S.CANCELLED: "cancelled",
    S.AWAITING_PAYMENT: "reserved",
    S.FAILED: "failed",
    S.COMPLETED: "completed",
}


def can_change(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ALLOWED[current]


def ensure_can_change(order_id: int, current: OrderStatus, target: OrderStatus) -> None:
    if not can_change(current, target):
        raise InvalidTransition(order_id, current, ACTION_WORDS.get(target, str(target)))

"""Order statuses in the route256 seed's wire spelling, why an order was cancelled, and the states
of a reservation. Every SQL literal, schema constraint and pattern spelling them is derived from
these enums (`sql_literal`, `sql_list`)."""

from collections.abc import Iterable
from enum import StrEnum


class OrderStatus(StrEnum):
    NEW = "new"
    AWAITING_PAYMENT = "awaiting payment"
    FAILED = "failed"
    PAID = "paid"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


#: What a user holds unpaid (counted against `domain/limits.py`).
UNPAID = (OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT)


class CancelReason(StrEnum):
    CUSTOMER = "customer"
    TIMEOUT = "timeout"
    STAFF = "staff"


class RequestedCancelReason(StrEnum):
    """The reasons a caller may give for cancelling; `timeout` is the expiry's own, never asked for."""

    CUSTOMER = CancelReason.CUSTOMER.value
    STAFF = CancelReason.STAFF.value


class ReservationState(StrEnum):
    HELD = "held"
    WRITTEN_OFF = "written_off"
    RELEASED = "released"


def sql_literal(value: StrEnum) -> str:
    """`value` as an SQL string literal (the enums' values hold no quotes)."""
    assert "'" not in value.value
    return f"'{value.value}'"


def sql_list(values: Iterable[StrEnum]) -> str:
    """`('a', 'b')`, for `column IN ...`."""
    return f"({', '.join(sql_literal(v) for v in values)})"

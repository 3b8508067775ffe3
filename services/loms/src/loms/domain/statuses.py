"""Order statuses in the route256 seed's wire spelling and why an order was cancelled (both shared
with the services that read them: `shopcommon.statuses`), and the states of a reservation. Every
SQL literal, schema constraint and pattern spelling them is derived from these enums
(`sql_literal`, `sql_list`)."""

from enum import StrEnum

from shopcommon.statuses import CancelReason, OrderStatus, sql_list, sql_literal

__all__ = [
    "UNPAID",
    "CancelReason",
    "OrderStatus",
    "RequestedCancelReason",
    "ReservationState",
    "sql_list",
    "sql_literal",
]

#: What a user holds unpaid (counted against `domain/limits.py`).
UNPAID = (OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT)


class RequestedCancelReason(StrEnum):
    """The reasons a caller may give for cancelling; `timeout` is the expiry's own, never asked for."""

    CUSTOMER = CancelReason.CUSTOMER.value
    STAFF = CancelReason.STAFF.value


class ReservationState(StrEnum):
    HELD = "held"
    WRITTEN_OFF = "written_off"
    RELEASED = "released"

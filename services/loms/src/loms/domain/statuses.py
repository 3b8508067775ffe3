"""Order statuses in the route256 seed's wire spelling and why an order was cancelled (both shared
with the services that read them: `shopcommon.statuses`), and the states of a reservation. Every
SQL literal, schema constraint and pattern spelling them is derived from these enums
(`sql_literal`, `sql_list`)."""

from enum import StrEnum

from shopcommon.statuses import CancelReason, OrderStatus, RequestedCancelReason, sql_list, sql_literal

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


class ReservationState(StrEnum):
    HELD = "held"
    WRITTEN_OFF = "written_off"
    RELEASED = "released"

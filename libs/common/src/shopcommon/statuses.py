"""The statuses the services tell each other of (CONTRACT.md): an order's and why it was cancelled
(LOMS's REST answers and order events), a fulfilment task's (LOMS's), a booking's and who cancelled
it (the bookings service's). One spelling for the service that writes them and every service that
reads them; a service keeps its own groupings of them (which are unpaid, which count as placed).

Every SQL literal, schema constraint and pattern spelling them is derived from these enums
(`sql_literal`, `sql_list`), so the database and the code cannot disagree on a spelling."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class OrderStatus(StrEnum):
    NEW = "new"
    AWAITING_PAYMENT = "awaiting payment"
    FAILED = "failed"
    PAID = "paid"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class CancelReason(StrEnum):
    CUSTOMER = "customer"
    TIMEOUT = "timeout"
    STAFF = "staff"


class RequestedCancelReason(StrEnum):
    """The reasons a caller may give for cancelling; `timeout` is the expiry's own, never asked for."""

    CUSTOMER = CancelReason.CUSTOMER.value
    STAFF = CancelReason.STAFF.value


class TaskStatus(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class CancelledBy(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


def sql_literal(value: StrEnum) -> str:
    """`value` as a quoted SQL string literal (enum values hold no quotes; one that did is refused)."""
    if "'" in value.value:
        raise ValueError(f"not a plain value: {value.value!r}")
    return f"'{value.value}'"


def sql_list(values: Iterable[StrEnum]) -> str:
    """`'a', 'b'`: the inside of `column IN (...)`."""
    return ", ".join(sql_literal(v) for v in values)

"""Order statuses in the route256 seed's wire spelling, and why an order was cancelled."""

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

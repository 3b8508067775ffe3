"""What each order status says to the customer, in words (the templates lay it out)."""

from __future__ import annotations

from notifications.domain.events import CancelReason, OrderStatus, OrderStatusChanged

SUBJECTS = {
    OrderStatus.NEW: "Order {id} received (status: new)",
    OrderStatus.AWAITING_PAYMENT: "Order {id} is awaiting payment",
    OrderStatus.PAID: "Order {id} is paid",
    OrderStatus.FAILED: "Order {id} failed",
    OrderStatus.CANCELLED: "Order {id} is cancelled",
    OrderStatus.COMPLETED: "Order {id} is completed",
}

CANCEL_REASONS = {
    CancelReason.CUSTOMER: "You cancelled it.",
    CancelReason.TIMEOUT: "It was not paid before the payment deadline, so it was cancelled by timeout.",
    CancelReason.STAFF: "The shop cancelled it.",
}


def subject_for(event: OrderStatusChanged) -> str:
    status = event.known_status
    template = SUBJECTS.get(status) if status else None
    return (template or "Order {id} is now {status}").format(id=event.order_id, status=event.status)


def cancel_reason_text(reason: str | None) -> str:
    try:
        return CANCEL_REASONS[CancelReason(reason or "")]
    except ValueError:
        return "It was cancelled."


def format_amount(minor_units: int | None) -> str:
    """Prices are integers in the smallest currency unit (cents)."""
    if minor_units is None:
        return "-"
    sign = "-" if minor_units < 0 else ""
    whole, cents = divmod(abs(minor_units), 100)
    return f"{sign}{whole:,}.{cents:02d}"

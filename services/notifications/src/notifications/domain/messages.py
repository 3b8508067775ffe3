"""What each order or booking status says to the customer or guest, in words (the templates lay
it out)."""

from __future__ import annotations

from notifications.domain.events import BookingStatusChanged, Event, TaskStatusChanged
from shopcommon.statuses import BookingStatus, CancelledBy, CancelReason, OrderStatus, TaskStatus

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


BOOKING_SUBJECTS = {
    BookingStatus.PENDING: "Booking {id} received (status: pending)",
    BookingStatus.CONFIRMED: "Booking {id} is confirmed",
    BookingStatus.REJECTED: "Booking {id} is rejected",
    BookingStatus.CANCELLED: "Booking {id} is cancelled",
}

CANCELLED_BY = {
    CancelledBy.CUSTOMER: "You cancelled it.",
    CancelledBy.STAFF: "The restaurant cancelled it.",
}


TASK_SUBJECTS = {
    TaskStatus.UNASSIGNED: "Task {id} of order {order} is waiting for a worker",
    TaskStatus.ASSIGNED: "Task {id} of order {order} is assigned to you ({category})",
    TaskStatus.IN_PROGRESS: "Task {id} of order {order} is in_progress",
    TaskStatus.DONE: "Task {id} of order {order} is done",
}


def subject_for(event: Event) -> str:
    if isinstance(event, TaskStatusChanged):
        task_status = event.known_status
        template = TASK_SUBJECTS.get(task_status) if task_status else None
        return (template or "Task {id} of order {order} is now {status}").format(
            id=event.task_id, order=event.order_id, category=event.category, status=event.status
        )
    if isinstance(event, BookingStatusChanged):
        booking_status = event.known_status
        template = BOOKING_SUBJECTS.get(booking_status) if booking_status else None
        return (template or "Booking {id} is now {status}").format(id=event.booking_id, status=event.status)
    status = event.known_status
    template = SUBJECTS.get(status) if status else None
    return (template or "Order {id} is now {status}").format(id=event.order_id, status=event.status)


def cancelled_by_text(cancelled_by: str | None) -> str:
    try:
        return CANCELLED_BY[CancelledBy(cancelled_by or "")]
    except ValueError:
        return "It was cancelled."


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

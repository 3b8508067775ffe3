"""The events on `bookings.booking-events`: `booking.status_changed`, shaped as CONTRACT.md fixes
it, and `table.changed` (a manager added or changed a table, or set its price), as
asyncapi/events.yaml describes it.

Beyond the contract's fields it carries `user_id` (the customer the booking is linked to, or null
for a guest), `cancelled_by` (`customer` or `staff`) when the status is `cancelled`, and
`cancel_url` in the first event of a guest's request (`pending`, from no status) only.

`cancel_url` holds the secret cancel token. It is the very link the acknowledging email carries
(notifications builds that email from this event), so the topic is as sensitive as the mailbox
it feeds: only the notifications consumer should be granted read on `bookings.booking-events`.
No later event repeats it, and the token works once and only until the booking starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bookings.domain.booking import Booking
from bookings.domain.statuses import BookingStatus
from shopcommon.events import envelope

EVENT_TYPE = "booking.status_changed"
TABLE_EVENT_TYPE = "table.changed"


def cancel_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/bookings/cancel/{token}"


def status_changed(
    booking: Booking,
    *,
    previous_status: BookingStatus | None,
    occurred_at: datetime,
    cancel_link: str | None = None,
) -> dict[str, Any]:
    event = envelope(
        EVENT_TYPE,
        occurred_at,
        booking_id=booking.booking_id,
        table_id=booking.table_id,
        status=str(booking.status),
        previous_status=str(previous_status) if previous_status is not None else None,
        starts_at=booking.starts_at.isoformat(),
        ends_at=booking.ends_at.isoformat(),
        name=booking.name,
        email=booking.email,
        phone=booking.phone,
        price=booking.price,
        user_id=booking.user_id,
    )
    if booking.status == BookingStatus.CANCELLED:
        if booking.cancelled_by is None:
            raise ValueError("a cancelled booking says who cancelled it")
        event["cancelled_by"] = str(booking.cancelled_by)
    if cancel_link is not None:
        if booking.status != BookingStatus.PENDING or previous_status is not None:
            raise ValueError("only the acknowledgement of a new request carries the cancel link")
        event["cancel_url"] = cancel_link
    return event


def table_changed(
    *, table_id: int, name: str, kind: str, seats: int, bookable: bool, price: int | None, occurred_at: datetime
) -> dict[str, Any]:
    """The table as it is after a manager's change; `price`: the one in force now (None while
    every price set lies in the future)."""
    return envelope(
        TABLE_EVENT_TYPE,
        occurred_at,
        table_id=table_id,
        name=name,
        kind=kind,
        seats=seats,
        bookable=bookable,
        price=price,
    )

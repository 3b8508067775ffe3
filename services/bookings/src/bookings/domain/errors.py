"""Business errors: each carries the HTTP status a client sees, so the API layer never translates them."""

from __future__ import annotations

from shopcommon.problems import Conflict, Forbidden, NotFound


class TableNotFound(NotFound):
    slug = "table-not-found"

    def __init__(self, table_id: int) -> None:
        super().__init__(f"Table {table_id} not found", table_id=table_id)


class BookingNotFound(NotFound):
    slug = "booking-not-found"

    def __init__(self, booking_id: int) -> None:
        super().__init__(f"Booking {booking_id} not found", booking_id=booking_id)


class CancelLinkNotFound(NotFound):
    """A forged token, or one already used: the same answer, so a token cannot be probed."""

    title, slug = "Cancel link not valid", "cancel-link-not-found"

    def __init__(self) -> None:
        super().__init__("This cancel link is not valid, or it has been used already.")


class TableClosed(Conflict):
    title, slug = "Table not bookable", "table-closed"

    def __init__(self, table_id: int) -> None:
        super().__init__(f"Table {table_id} is closed for booking", table_id=table_id)


class TableTaken(Conflict):
    """The database refused a second confirmed booking of the table overlapping this one."""

    title, slug = "Table already booked", "table-taken"

    def __init__(self, table_id: int) -> None:
        super().__init__(
            f"A confirmed booking of table {table_id} overlaps this time; it cannot be confirmed", table_id=table_id
        )


class TableNameTaken(Conflict):
    title, slug = "Table name in use", "table-name-taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"Another table is called {name!r}", name=name)


class PriceExists(Conflict):
    title, slug = "Price already set", "price-exists"

    def __init__(self, table_id: int) -> None:
        super().__init__(f"Table {table_id} already has a price from that moment", table_id=table_id)


class InvalidTransition(Conflict):
    title, slug = "Booking status does not allow this", "invalid-transition"

    def __init__(self, booking_id: int, status: str, action: str) -> None:
        super().__init__(
            f"Booking {booking_id} is {status!r}; it cannot be {action}", booking_id=booking_id, current_status=status
        )


class BookingStarted(Conflict):
    title, slug = "Booking has started", "booking-started"

    def __init__(self, booking_id: int, action: str, *, ended: bool = False) -> None:
        when = "has ended" if ended else "has started"
        super().__init__(f"Booking {booking_id} {when}; it can no longer be {action}", booking_id=booking_id)


class DirectBookingForbidden(Forbidden):
    title, slug = "Only staff book directly", "direct-booking-forbidden"

    def __init__(self) -> None:
        super().__init__('Only a manager may create a booking with "status": "confirmed"')

"""What staff do with bookings, and who may read one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.booking import Action, Booking
from bookings.domain.errors import BookingNotFound
from bookings.domain.statuses import CancelledBy
from bookings.repositories import bookings
from bookings.repositories.bookings import BookingFilter
from bookings.services.events import EventSink
from shopcommon.auth import Principal, Role
from shopcommon.pagination import split_page


async def move(conn: AsyncConnection, sink: EventSink, booking_id: int, action: Action, *, now: datetime) -> Booking:
    """Confirm, reject or cancel (as staff) one booking, with its event."""
    current = await bookings.lock(conn, booking_id)
    if current is None:
        raise BookingNotFound(booking_id)
    moved = current.moved(action, now=now, by=CancelledBy.STAFF)
    await bookings.set_status(conn, moved)
    await sink.record(conn, moved, previous=current.status, now=now)
    return moved


async def get_booking(conn: AsyncConnection, booking_id: int, *, caller: Principal) -> Booking:
    """Managers read every booking; a customer only one linked to them (anything else is 404)."""
    booking = await bookings.get(conn, booking_id)
    owner = caller.user_id is not None and booking is not None and booking.user_id == caller.user_id
    if booking is None or (caller.role != Role.MANAGER and not owner):
        raise BookingNotFound(booking_id)
    return booking


async def list_bookings(
    conn: AsyncConnection, where: BookingFilter, *, after: tuple[datetime, int] | None, limit: int
) -> tuple[list[Booking], tuple[datetime, int] | None]:
    """One page in start order, and the position after it (None on the last page)."""
    found = await bookings.list_for_staff(conn, where, after=after, limit=limit + 1)
    return split_page(found, limit, lambda booking: (booking.starts_at, booking.booking_id))


async def list_mine(
    conn: AsyncConnection, user_id: int, *, before_id: int | None, limit: int
) -> tuple[list[Booking], int | None]:
    """A customer's bookings, newest first, and the id to continue before (None on the last page)."""
    found = await bookings.list_of_user(conn, user_id, before_id=before_id, limit=limit + 1)
    return split_page(found, limit, lambda booking: booking.booking_id)

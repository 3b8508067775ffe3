"""A booking request: a guest's (pending, with a cancel link) or a manager's direct booking
(confirmed at once, refused by the database when it overlaps another confirmed one).

A public request makes the system e-mail whatever address it names, so it is counted against
its rate-limit buckets (`domain.limits`): only requests that make a booking count (a refused one
mails nobody); beyond a limit the request is 429 before the table is looked at."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.booking import Booking, BookingDetails
from bookings.domain.errors import DirectBookingForbidden, TableClosed
from bookings.domain.limits import Bucket
from bookings.domain.rules import check_booking_window
from bookings.domain.statuses import BookingStatus
from bookings.domain.tokens import new_cancel_token
from bookings.repositories import bookings, request_hits, tables
from bookings.repositories.bookings import NewBooking
from bookings.services.events import EventSink
from shopcommon.auth import Principal, Role
from shopcommon.problems import Conflict, TooManyRequests, Unauthorized


async def request_booking(
    conn: AsyncConnection,
    sink: EventSink,
    request: BookingDetails,
    *,
    direct: bool = False,
    caller: Principal | None,
    now: datetime,
    limits: Sequence[Bucket] = (),
) -> Booking:
    """`direct`: a manager's direct booking (`"status": "confirmed"`); `limits`: the buckets the
    request counts against (none for staff)."""
    if direct:
        if caller is None:
            raise Unauthorized('Sign in as a manager to create a booking with "status": "confirmed"')
        if caller.role != Role.MANAGER:
            raise DirectBookingForbidden()
    check_booking_window(request.starts_at, request.ends_at, now)
    if limits:
        wait = await request_hits.wait_for(conn, limits)
        if wait > 0:
            raise TooManyRequests(math.ceil(wait), "Too many booking requests; try again later.")
    bookable, price = await tables.lock_for_booking(conn, request.table_id, now)
    if not bookable:
        raise TableClosed(request.table_id)
    if price is None:
        raise Conflict(f"Table {request.table_id} has no price in force yet", slug="table-not-priced")
    token, digest = (None, None) if direct else new_cancel_token()
    new = NewBooking(
        **asdict(request),
        price=price,
        status=BookingStatus.CONFIRMED if direct else BookingStatus.PENDING,
        # Only a customer's own request is theirs; a manager books for a guest.
        user_id=caller.user_id if caller is not None and caller.role == Role.CUSTOMER else None,
        cancel_token_hash=digest,
    )
    booking = await bookings.insert(conn, new)
    await sink.record(conn, booking, previous=None, now=now, cancel_token=token)
    await request_hits.record(conn, limits)
    return booking

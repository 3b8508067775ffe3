"""The guest's cancel link: opening it shows the booking and changes nothing (mail scanners follow
links); only the POST cancels, once, and only before the booking starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.booking import ALLOWED_FROM, Action, Booking
from bookings.domain.errors import CancelLinkNotFound
from bookings.domain.statuses import CancelledBy
from bookings.domain.tokens import token_digest
from bookings.repositories import bookings
from bookings.services.events import EventSink


@dataclass(frozen=True)
class CancelLinkView:
    booking: Booking
    #: Whether the Cancel button works now.
    cancellable: bool
    #: Why it does not, in words for the page; None when it does.
    reason: str | None


def _reason(booking: Booking, now: datetime) -> str | None:
    if booking.status not in ALLOWED_FROM[Action.CANCEL]:
        return f"The booking is {booking.status}."
    if now >= booking.ends_at:
        return "The booking has ended; it can no longer be cancelled."
    if booking.has_started(now):
        return "The booking has started; it can no longer be cancelled here."
    return None


async def show(conn: AsyncConnection, token: str, *, now: datetime) -> CancelLinkView:
    booking = await bookings.by_token(conn, token_digest(token), for_update=False)
    if booking is None:
        raise CancelLinkNotFound()
    reason = _reason(booking, now)
    return CancelLinkView(booking, reason is None, reason)


async def cancel(conn: AsyncConnection, sink: EventSink, token: str, *, now: datetime) -> Booking:
    """Cancel the booking the token names and spend the token (a second POST finds nothing)."""
    current = await bookings.by_token(conn, token_digest(token), for_update=True)
    if current is None:
        raise CancelLinkNotFound()
    cancelled = current.moved(Action.CANCEL, now=now, by=CancelledBy.CUSTOMER)
    await bookings.set_status(conn, cancelled, spend_token=True)
    await sink.record(conn, cancelled, previous=current.status, now=now)
    return cancelled

"""Every status change of a booking leaves a `booking.status_changed` event in the outbox, in the
transaction of the change; the relay publishes it to `bookings.booking-events`, keyed by the
booking id so one booking's events stay in order. A manager's change of a table leaves a
`table.changed` event the same way, keyed `table:<id>`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain import events
from bookings.domain.booking import Booking
from bookings.domain.statuses import BookingStatus
from bookings.repositories.tables import TableRow
from shopcommon.logging import current_request_id
from shopcommon.outbox import OutboxMessage, OutboxStore

OUTBOX = OutboxStore("outbox", channel="bookings_outbox")


@dataclass(frozen=True)
class EventSink:
    topic: str
    #: Where the web pages live: cancel links point there.
    public_url: str

    async def record(
        self,
        conn: AsyncConnection,
        booking: Booking,
        *,
        previous: BookingStatus | None,
        now: datetime,
        cancel_token: str | None = None,
    ) -> None:
        link = events.cancel_url(self.public_url, cancel_token) if cancel_token is not None else None
        payload = events.status_changed(booking, previous_status=previous, occurred_at=now, cancel_link=link)
        message = OutboxMessage(str(booking.booking_id), payload)
        await OUTBOX.add(conn, self.topic, [message], request_id=current_request_id())

    async def table_changed(self, conn: AsyncConnection, table: TableRow, *, now: datetime) -> None:
        payload = events.table_changed(
            table_id=table.table_id, name=table.name, kind=str(table.kind), seats=table.seats,
            bookable=table.bookable, price=table.price, occurred_at=now,
        )  # fmt: skip
        message = OutboxMessage(f"table:{table.table_id}", payload)
        await OUTBOX.add(conn, self.topic, [message], request_id=current_request_id())

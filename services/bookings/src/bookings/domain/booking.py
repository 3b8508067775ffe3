"""A booking and its life: which status changes each actor may make, and when."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bookings.domain.errors import BookingStarted, InvalidTransition
from bookings.domain.statuses import BookingStatus, CancelledBy

S = BookingStatus


class Action(StrEnum):
    CONFIRM = S.CONFIRMED.value
    REJECT = S.REJECTED.value
    CANCEL = S.CANCELLED.value


#: From which statuses each action may start; the target status is the action's own.
ALLOWED_FROM: dict[Action, frozenset[BookingStatus]] = {
    Action.CONFIRM: frozenset({S.PENDING}),
    Action.REJECT: frozenset({S.PENDING}),
    Action.CANCEL: frozenset({S.PENDING, S.CONFIRMED}),
}
TARGET: dict[Action, BookingStatus] = {
    Action.CONFIRM: S.CONFIRMED,
    Action.REJECT: S.REJECTED,
    Action.CANCEL: S.CANCELLED,
}


@dataclass(frozen=True)
class BookingDetails:
    """What a booking request asks for: a table for a time window, in a guest's name and contact."""

    table_id: int
    starts_at: datetime
    ends_at: datetime
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Booking(BookingDetails):
    """A booking made of the details asked for: its id, price and status."""

    booking_id: int
    price: int
    status: BookingStatus
    cancelled_by: CancelledBy | None
    user_id: int | None
    created_at: datetime

    def has_started(self, now: datetime) -> bool:
        return now >= self.starts_at

    def moved(self, action: Action, *, now: datetime, by: CancelledBy = CancelledBy.STAFF) -> Booking:
        """The booking after `action`; refused (409) from a status that does not allow it.

        A guest may cancel only before the booking starts (the link says so afterwards); staff
        may cancel a booking under way (a party that left early, a table needed back). Nobody
        confirms a booking whose time is over."""
        if self.status not in ALLOWED_FROM[action]:
            raise InvalidTransition(self.booking_id, self.status, action.value)
        if action == Action.CANCEL and by == CancelledBy.CUSTOMER and self.has_started(now):
            raise BookingStarted(self.booking_id, S.CANCELLED, ended=now >= self.ends_at)
        if action == Action.CONFIRM and now >= self.ends_at:
            raise BookingStarted(self.booking_id, S.CONFIRMED, ended=True)
        cancelled_by = by if action == Action.CANCEL else None
        return replace(self, status=TARGET[action], cancelled_by=cancelled_by)

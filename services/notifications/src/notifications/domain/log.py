"""A notification as its log keeps it: what the caller's notification list shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LoggedNotification:
    """An order's (`order_id`, `order_status`) or a booking's (`booking_id`, `booking_status`)
    notification; the other pair is None."""

    id: int
    event_id: uuid.UUID
    order_id: int | None
    order_status: str | None
    booking_id: int | None
    booking_status: str | None
    channel: str
    recipient: str | None
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class LogPage:
    items: list[LoggedNotification]
    next_cursor: str | None

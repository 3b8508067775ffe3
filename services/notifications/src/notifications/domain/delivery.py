"""Which notifications an event causes and how their delivery is retried."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from notifications.domain.events import BookingStatusChanged, Event, TaskStatusChanged
from shopcommon.statuses import BookingStatus, OrderStatus, TaskStatus


class Channel(StrEnum):
    EMAIL = "email"
    PUSH = "push"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


#: Every status a customer or guest cares about gets an e-mail; an unknown future status does not.
EMAILED_STATUSES: frozenset[OrderStatus | BookingStatus] = frozenset(OrderStatus) | frozenset(BookingStatus)

#: The log's reason for a booking notice nobody could be e-mailed: neutral, as the guest may read it.
NO_BOOKING_ADDRESS = "no e-mail address was given for the booking"
UNUSABLE_BOOKING_ADDRESS = "the e-mail address given for the booking cannot be used"

#: The most RFC 5321 lets an address be (and what the log's `recipient` holds).
MAX_ADDRESS_LENGTH = 320


def wants_email(event: Event) -> bool:
    """Customers and guests: every status they care about. Workers: each task assigned to them
    (one e-mail per assignment, as each assignment is its own event)."""
    if isinstance(event, TaskStatusChanged):
        return event.known_status == TaskStatus.ASSIGNED and event.worker_id is not None
    return event.known_status in EMAILED_STATUSES


def booking_address_problem(event: BookingStatusChanged) -> str | None:
    """Why the guest cannot be e-mailed about their booking, or None when they can.

    The bookings service validated the address; this only refuses what could not go into an
    SMTP envelope and a `To:` header as it is (no spaces, controls or line breaks, one `@`)."""
    address = event.email or ""
    if not address.strip():
        return NO_BOOKING_ADDRESS
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(address) > MAX_ADDRESS_LENGTH
        or any(ch.isspace() or not ch.isprintable() or ch in "<>,;" for ch in address)
    ):
        return UNUSABLE_BOOKING_ADDRESS
    return None


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_seconds: float
    max_attempts: int

    def delay_after(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed tries: base, 2x base, 4x base, ... capped."""
        return float(min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1)))

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


class DeliveryError(Exception):
    """A failed try; `permanent` ones are recorded and never retried.

    The message is the short, neutral reason the customer reads in their notification log;
    `detail` (exception text, a remote server's answer) goes to the server's log only.
    """

    def __init__(
        self, reason: str, *, permanent: bool, retry_after: float | None = None, detail: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.detail = detail

    def for_log(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason

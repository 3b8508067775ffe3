"""Which notifications an event causes and how their delivery is retried."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from notifications.domain.events import OrderStatus, OrderStatusChanged


class Channel(StrEnum):
    EMAIL = "email"
    PUSH = "push"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


#: Every status a customer cares about gets an e-mail; an unknown future status does not.
EMAILED_STATUSES = frozenset(OrderStatus)


def wants_email(event: OrderStatusChanged) -> bool:
    return event.known_status in EMAILED_STATUSES


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

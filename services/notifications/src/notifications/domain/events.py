"""The order events LOMS publishes on `loms.order-events` (CONTRACT.md, "Events").

Parsing is tolerant of unknown fields (kept, and passed on to the live stream as received) and
strict about the fields this service acts on: a message without them is malformed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ORDER_STATUS_CHANGED = "order.status_changed"
INT64_MAX = 2**63 - 1


class OrderStatus(StrEnum):
    NEW = "new"
    AWAITING_PAYMENT = "awaiting payment"
    FAILED = "failed"
    PAID = "paid"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class CancelReason(StrEnum):
    CUSTOMER = "customer"
    TIMEOUT = "timeout"
    STAFF = "staff"


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    sku: int
    count: int
    price: int | None = None


class OrderStatusChanged(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: uuid.UUID
    type: str
    occurred_at: datetime
    order_id: int = Field(ge=1, le=INT64_MAX)
    user_id: int = Field(ge=1, le=INT64_MAX)
    #: A string, not the enum: a status this service does not know yet is still streamed and pushed.
    status: str = Field(min_length=1, max_length=32)
    previous_status: str | None = None
    items: list[OrderItem] = Field(default_factory=list)
    total_price: int | None = None
    payment_deadline: datetime | None = None
    reason: str | None = None

    @property
    def known_status(self) -> OrderStatus | None:
        try:
            return OrderStatus(self.status)
        except ValueError:
            return None


class UnknownEventType(Exception):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class MalformedEvent(Exception):
    pass


def parse_event(raw: bytes | None) -> tuple[OrderStatusChanged, dict[str, Any]]:
    """The event and the JSON object it came from; raises MalformedEvent or UnknownEventType."""
    if not raw:
        raise MalformedEvent("empty message")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedEvent("not a JSON object")
    event_type = document.get("type")
    if not isinstance(event_type, str):
        raise MalformedEvent("no event type")
    if event_type != ORDER_STATUS_CHANGED:
        raise UnknownEventType(event_type)
    try:
        return OrderStatusChanged.model_validate(document), document
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise MalformedEvent(f"invalid fields: {fields}") from exc

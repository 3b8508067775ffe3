"""The events this service consumes: LOMS's order and fulfilment-task events on
`loms.order-events` (CONTRACT.md, "Events" and "Fulfilment") and the bookings service's on
`bookings.booking-events` (CONTRACT.md, "Bookings"); and the managers' changes of stock and tables
(`stock.changed`, `table.changed`, asyncapi/events.yaml), which belong to no user: they are only
streamed to managers (`STAFF_ONLY`).

Parsing is tolerant of unknown fields (kept, and passed on to the live stream as received) and
strict about the fields this service acts on: a message without them is malformed. The live
stream sends `stream_document()`: the event as read, in the spelling the published schema (the
model's) describes, which is the publisher's own; a laxer spelling (`"7"` for 7, a
UUID without hyphens, a time without an offset, read as UTC) is sent in that form.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, ValidationError
from pydantic.json_schema import SkipJsonSchema

from shopcommon.statuses import BookingStatus, OrderStatus, TaskStatus

ORDER_STATUS_CHANGED = "order.status_changed"
BOOKING_STATUS_CHANGED = "booking.status_changed"
TASK_STATUS_CHANGED = "task.status_changed"
STOCK_CHANGED = "stock.changed"
TABLE_CHANGED = "table.changed"
UINT32_MAX = 2**32 - 1
INT64_MAX = 2**63 - 1


def _utc_if_naive(moment: datetime) -> datetime:
    """RFC 3339 (the schema's `date-time`) requires an offset; a time given without one is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


#: Written back as `isoformat()` gives it, as LOMS writes it (`+00:00`, not pydantic's `Z`).
Moment = Annotated[
    datetime, AfterValidator(_utc_if_naive), PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]


class OrderItem(BaseModel):
    """One line of the order; fields not named here are passed on as received."""

    model_config = ConfigDict(extra="allow")

    sku: int
    count: int
    price: int | None = Field(default=None, description="The unit price, in the smallest currency unit.")


class StreamedEvent(BaseModel):
    """What every consumed event is: fields this service does not know are kept and passed on as
    received; optional fields the publisher left out stay out."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def stream_document(self) -> dict[str, Any]:
        """The event as the live stream sends it: JSON as this model's schema describes it."""
        return self.model_dump(mode="json", exclude_unset=True)


class OrderStatusChanged(StreamedEvent):
    """LOMS's `order.status_changed` event (CONTRACT.md, "Events"): the `data` of a live stream event.

    Fields this service does not know are passed on as received; optional fields LOMS left out
    stay out."""

    event_id: uuid.UUID = Field(description="Unique per event; the stream's `id:`, and what `Last-Event-ID` names.")
    type: Literal["order.status_changed"]
    occurred_at: Moment
    order_id: int = Field(ge=1, le=INT64_MAX)
    user_id: int = Field(ge=1, le=INT64_MAX)
    #: A string, not the enum: a status this service does not know yet is still streamed and pushed.
    status: str = Field(
        min_length=1, max_length=32, description="The order's new status, in the wire spelling (`awaiting payment`)."
    )
    previous_status: str | None = Field(default=None, description="The status before; null for a new order.")
    items: list[OrderItem] = Field(default_factory=list)
    total_price: int | None = Field(default=None, description="In the smallest currency unit.")
    payment_deadline: Moment | None = Field(default=None, description="Set when the status is `awaiting payment`.")
    reason: str | None = Field(
        default=None, description="Set when the status is `cancelled`: `customer`, `timeout` or `staff`."
    )

    @property
    def known_status(self) -> OrderStatus | None:
        try:
            return OrderStatus(self.status)
        except ValueError:
            return None


class BookingStatusChanged(StreamedEvent):
    """The bookings service's `booking.status_changed` event (CONTRACT.md, "Bookings"): the `data`
    of a live stream event when the booking is linked to the caller.

    The contact fields are what the guest gave: `email` may be absent (a phone-only booking),
    and is checked before anything is sent to it, not here, so such an event is still logged."""

    event_id: uuid.UUID = Field(description="Unique per event; the stream's `id:`, and what `Last-Event-ID` names.")
    type: Literal["booking.status_changed"]
    occurred_at: Moment
    booking_id: int = Field(ge=1, le=INT64_MAX)
    table_id: int = Field(ge=1, le=INT64_MAX)
    #: A string, not the enum: a status this service does not know yet is still logged and streamed.
    status: str = Field(min_length=1, max_length=32, description="`pending`, `confirmed`, `rejected` or `cancelled`.")
    previous_status: str | None = Field(default=None, description="The status before; null for a new booking.")
    starts_at: Moment
    ends_at: Moment
    name: str = Field(description="The name the booking is under.")
    email: str | None = None
    phone: str | None = None
    price: int = Field(description="The booking price, in the smallest currency unit.")
    user_id: int | None = Field(
        default=None, ge=1, le=INT64_MAX, description="The customer the booking is linked to; null for a guest."
    )
    cancelled_by: str | None = Field(
        default=None, description="Set when the status is `cancelled`: `customer` or `staff`."
    )
    #: The guest's secret cancel link, only in the first event of a request: it goes into the
    #: acknowledging e-mail and nowhere else (never on the live stream, so not in its schema).
    cancel_url: SkipJsonSchema[str | None] = Field(
        default=None, exclude=True, max_length=2048, pattern=r"^https?://[^\s<>\"]+$"
    )

    @property
    def known_status(self) -> BookingStatus | None:
        try:
            return BookingStatus(self.status)
        except ValueError:
            return None


class TaskStatusChanged(StreamedEvent):
    """LOMS's `task.status_changed` event (CONTRACT.md, "Fulfilment"): a fulfilment task of an
    order changed status or worker. It belongs to the worker it is assigned to (`user_id` here):
    their live stream, their notification log, their e-mail when it is `assigned` to them. The live
    stream also sends it to the order's customer and to managers (`notifications.audiences`)."""

    event_id: uuid.UUID = Field(description="Unique per event; the stream's `id:`, and what `Last-Event-ID` names.")
    type: Literal["task.status_changed"]
    occurred_at: Moment
    task_id: int = Field(ge=1, le=INT64_MAX)
    order_id: int = Field(ge=1, le=INT64_MAX)
    category: str = Field(min_length=1, max_length=100, description="The product category of the task's items.")
    worker_id: int | None = Field(
        default=None, ge=1, le=INT64_MAX, description="The worker it is assigned to; null while `unassigned`."
    )
    #: A string, not the enum: a status this service does not know yet is still logged and streamed.
    status: str = Field(min_length=1, max_length=32, description="`unassigned`, `assigned`, `in_progress` or `done`.")
    previous_status: str | None = Field(default=None, description="The status before; null for a new task.")
    previous_worker_id: int | None = Field(
        default=None, ge=1, le=INT64_MAX,
        description="The worker it was assigned to before (their stream is told when it was taken from them).",
    )  # fmt: skip

    @property
    def user_id(self) -> int | None:
        """Whose the event is: the worker's (nobody's while the task waits for one)."""
        return self.worker_id

    @property
    def known_status(self) -> TaskStatus | None:
        try:
            return TaskStatus(self.status)
        except ValueError:
            return None


class StockChanged(StreamedEvent):
    """LOMS's `stock.changed` event: a manager set or adjusted a warehouse's total of a sku.
    Managers' open stock pages follow it; it belongs to no user."""

    event_id: uuid.UUID = Field(description="Unique per event; the stream's `id:`.")
    type: Literal["stock.changed"]
    occurred_at: Moment
    warehouse_id: int = Field(ge=1, le=INT64_MAX)
    sku: int = Field(ge=1, le=UINT32_MAX)
    total: int = Field(ge=0, le=UINT32_MAX, description="The warehouse's whole stock of the sku, reserved included.")
    reserved: int = Field(ge=0, le=UINT32_MAX, description="Of the total, what orders hold.")
    previous_total: int | None = Field(default=None, ge=0, le=UINT32_MAX, description="Null for a new row.")

    @property
    def user_id(self) -> None:
        """Nobody's: managers hear it on their shared channel."""
        return None


class TableChanged(StreamedEvent):
    """The bookings service's `table.changed` event: a manager added or changed a table (the table
    as it is after). Managers' open bookings desks follow it; it belongs to no user."""

    event_id: uuid.UUID = Field(description="Unique per event; the stream's `id:`.")
    type: Literal["table.changed"]
    occurred_at: Moment
    table_id: int = Field(ge=1, le=INT64_MAX)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=32, description="`regular`, `cabin` or `room`.")
    seats: int = Field(ge=1, le=INT64_MAX)
    bookable: bool
    price: int | None = Field(default=None, ge=0, description="In force now; null while only later prices are set.")

    @property
    def user_id(self) -> None:
        """Nobody's: managers hear it on their shared channel."""
        return None


#: The events that tell someone of what is theirs (logged, e-mailed, pushed, streamed).
Event = OrderStatusChanged | BookingStatusChanged | TaskStatusChanged
#: The events only managers hear, on their live stream: no log, no e-mail, no push.
StaffEvent = StockChanged | TableChanged
STAFF_ONLY = (StockChanged, TableChanged)
#: What the consumer reads, as the models above; each says what it is about by its own fields.
Consumed = Event | StaffEvent

_MODELS: dict[str, type[Consumed]] = {
    ORDER_STATUS_CHANGED: OrderStatusChanged,
    BOOKING_STATUS_CHANGED: BookingStatusChanged,
    TASK_STATUS_CHANGED: TaskStatusChanged,
    STOCK_CHANGED: StockChanged,
    TABLE_CHANGED: TableChanged,
}


class UnknownEventType(Exception):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class MalformedEvent(Exception):
    pass


def parse_event(raw: bytes | None) -> tuple[Consumed, dict[str, Any]]:
    """The event and the JSON object it came from; raises MalformedEvent or UnknownEventType."""
    if not raw:
        raise MalformedEvent("empty message")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedEvent("not a JSON object")
    return parse_document(document), document


def parse_document(document: dict[str, Any]) -> Consumed:
    """An event from its JSON object (as read from the broker, or as stored with its notifications)."""
    event_type = document.get("type")
    if not isinstance(event_type, str):
        raise MalformedEvent("no event type")
    model = _MODELS.get(event_type)
    if model is None:
        raise UnknownEventType(event_type)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise MalformedEvent(f"invalid fields: {fields}") from exc

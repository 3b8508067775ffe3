import uuid

import orjson
import pytest

from notifications.domain.events import (
    BookingStatus,
    BookingStatusChanged,
    MalformedEvent,
    OrderStatus,
    StockChanged,
    TableChanged,
    UnknownEventType,
    parse_event,
)
from notifications.testing.events import booking_event, order_event, stock_event, table_event


def test_a_contract_event_parses_and_keeps_unknown_fields() -> None:
    document = order_event(7, 3, "paid", "awaiting payment", warehouse_note="x")
    event, kept = parse_event(orjson.dumps(document))
    assert event.order_id == 7 and event.user_id == 3 and event.known_status is OrderStatus.PAID
    assert event.event_id == uuid.UUID(document["event_id"])
    assert kept["warehouse_note"] == "x"


def test_an_unknown_status_parses_but_is_not_a_known_status() -> None:
    event, _ = parse_event(orjson.dumps(order_event(7, 3, "shipped", "paid")))
    assert event.status == "shipped" and event.known_status is None


def test_an_unknown_event_type_is_reported_as_such() -> None:
    with pytest.raises(UnknownEventType):
        parse_event(orjson.dumps({**order_event(1, 1, "paid"), "type": "order.rated"}))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"no": "type"}',
        orjson.dumps({**order_event(1, 1, "paid"), "event_id": "nope"}),
        orjson.dumps({**order_event(1, 1, "paid"), "order_id": "seven"}),
        orjson.dumps({k: v for k, v in order_event(1, 1, "paid").items() if k != "user_id"}),
    ],
)
def test_malformed_messages_are_reported_as_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(raw)


def test_a_booking_event_parses_keeps_unknown_fields_and_streams_without_the_cancel_link() -> None:
    document = booking_event(11, "pending", user_id=None, seating="window")
    event, kept = parse_event(orjson.dumps(document))
    assert isinstance(event, BookingStatusChanged)
    assert (event.booking_id, event.user_id, event.known_status) == (11, None, BookingStatus.PENDING)
    assert event.cancel_url == document["cancel_url"] and kept["cancel_url"] == document["cancel_url"]
    streamed = event.stream_document()
    assert "cancel_url" not in streamed and streamed["seating"] == "window"
    assert "cancel_url" not in BookingStatusChanged.model_json_schema()["properties"]


def test_a_phone_only_booking_event_parses() -> None:
    event, _ = parse_event(orjson.dumps(booking_event(12, "confirmed", "pending", email=None, phone="+1 555 0100")))
    assert isinstance(event, BookingStatusChanged) and event.email is None


def test_an_unknown_booking_event_type_is_reported_as_such() -> None:
    with pytest.raises(UnknownEventType):
        parse_event(orjson.dumps({**booking_event(1, "pending"), "type": "booking.rated"}))


@pytest.mark.parametrize(
    "document",
    [
        {**booking_event(1, "pending"), "booking_id": 0},
        {**booking_event(1, "pending"), "starts_at": "at seven"},
        {**booking_event(1, "pending"), "user_id": "guest"},
        {**booking_event(1, "pending"), "cancel_url": "javascript:alert(1)"},
        {k: v for k, v in booking_event(1, "pending").items() if k != "table_id"},
    ],
)
def test_malformed_booking_events_are_reported_as_malformed(document: dict[str, object]) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(orjson.dumps(document))


def test_a_managers_stock_or_table_change_parses_as_nobodys_and_a_broken_one_is_malformed() -> None:
    stock, _ = parse_event(orjson.dumps(stock_event(3, 1001, 40, None, note="x")))
    table, _ = parse_event(orjson.dumps(table_event(7, bookable=False)))
    assert isinstance(stock, StockChanged) and isinstance(table, TableChanged)
    assert (stock.user_id, table.user_id) == (None, None)
    assert stock.stream_document()["note"] == "x" and stock.stream_document()["previous_total"] is None
    for broken in (stock_event(3, 1001, -1, None), stock_event(0, 1001, 4, 3), {**table_event(7), "bookable": None},
                   {**table_event(7), "seats": 0}):  # fmt: skip
        with pytest.raises(MalformedEvent):
            parse_event(orjson.dumps(broken))

import uuid

import orjson
import pytest

from notifications.domain.events import MalformedEvent, OrderStatus, UnknownEventType, parse_event
from notifications.testing.events import order_event


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

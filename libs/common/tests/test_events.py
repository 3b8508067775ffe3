import uuid
from datetime import UTC, datetime, timedelta, timezone

from shopcommon.events import envelope


def test_an_event_leads_with_its_envelope_then_its_own_fields_in_order() -> None:
    moment = datetime(2026, 12, 7, 9, 30, tzinfo=timezone(timedelta(hours=3)))
    event = envelope("order.status_changed", moment, order_id=7, status="paid")
    assert list(event) == ["event_id", "type", "occurred_at", "order_id", "status"]
    assert uuid.UUID(event["event_id"]).version == 4
    assert event["type"] == "order.status_changed"
    assert event["occurred_at"] == "2026-12-07T09:30:00+03:00"
    assert (event["order_id"], event["status"]) == (7, "paid")


def test_every_event_gets_an_id_of_its_own() -> None:
    now = datetime.now(UTC)
    assert envelope("stock.changed", now)["event_id"] != envelope("stock.changed", now)["event_id"]

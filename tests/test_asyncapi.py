"""asyncapi/events.yaml: valid AsyncAPI 3.0 (against the official JSON Schema, vendored), every event
type the code publishes or reads is in it, and its payload schemas accept exactly what the
publishers' own event builders make. tests/e2e/test_events_match_asyncapi.py checks the same
schemas against the events real flows put on the broker; `make docs` pages are checked by
`tools/asyncapi_check.py html` (tested here on pages made up for it)."""

from __future__ import annotations

import copy
import importlib.util
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bookings.domain import events as booking_events
from bookings.domain.booking import Booking
from bookings.domain.statuses import BookingStatus, CancelledBy
from loms.domain import events as order_events
from loms.domain.items import OrderItem
from loms.domain.statuses import CancelReason, OrderStatus
from loms.domain.tasks import TaskStatus
from loms.domain.tasks import status_changed as task_status_changed
from notifications.domain import events as consumed

ROOT = Path(__file__).resolve().parent.parent


def load_checker() -> Any:
    """tools/asyncapi_check.py (tools/ is not a package on the test path)."""
    if "asyncapi_check" not in sys.modules:
        spec = importlib.util.spec_from_file_location("asyncapi_check", ROOT / "tools" / "asyncapi_check.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["asyncapi_check"] = module
        spec.loader.exec_module(module)
    return sys.modules["asyncapi_check"]


checker = load_checker()
DOCUMENT: Path = checker.DOCUMENT
EventCatalogue = checker.EventCatalogue
html_problems = checker.html_problems
load = checker.load
structure_problems = checker.structure_problems
ORDERS = "loms.order-events"
BOOKINGS = "bookings.booking-events"
DOC = load()
CATALOGUE = EventCatalogue(DOC)
NOW = datetime(2026, 12, 5, 8, 0, 0, 120_000, tzinfo=UTC)


def test_the_document_is_valid_asyncapi_3() -> None:
    assert DOC["asyncapi"] == "3.0.0"
    assert structure_problems(DOC) == []


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("an operation's action", lambda d: d["operations"]["publishOrderEvents"].update(action="publish")),
        ("a misspelt channel field", lambda d: d["channels"]["orderEvents"].update(adress="x")),
        ("a reference to nothing", lambda d: d["channels"]["orderEvents"]["messages"].update(x={"$ref": "#/nope"})),
        ("no info", lambda d: d.pop("info")),
    ],
)
def test_the_structure_check_catches_a_broken_document(where: str, change: Any) -> None:
    broken = copy.deepcopy(DOC)
    change(broken)
    assert structure_problems(broken), where


def test_both_topics_and_every_event_type_are_described() -> None:
    assert CATALOGUE.topics == {ORDERS, BOOKINGS}
    assert CATALOGUE.names(ORDERS) == {order_events.EVENT_TYPE, "task.status_changed", order_events.STOCK_EVENT_TYPE}
    assert CATALOGUE.names(BOOKINGS) == {booking_events.EVENT_TYPE, booking_events.TABLE_EVENT_TYPE}
    # Every type the consumer acts on is documented on the topic it reads it from.
    assert consumed.ORDER_STATUS_CHANGED in CATALOGUE.names(ORDERS)
    assert consumed.BOOKING_STATUS_CHANGED in CATALOGUE.names(BOOKINGS)


def test_the_guarantees_are_stated() -> None:
    text = DOC["info"]["description"].lower()
    for words in ("at least once", "event_id", "ordered per key", "decimal", "ignore fields"):
        assert words in text, words


def example_key(payload: dict[str, Any]) -> str:
    if payload["type"] == order_events.STOCK_EVENT_TYPE:
        return f"stock:{payload['warehouse_id']}:{payload['sku']}"
    if payload["type"] == booking_events.TABLE_EVENT_TYPE:
        return f"table:{payload['table_id']}"
    return str(payload.get("order_id") or payload.get("booking_id"))


def test_every_example_matches_its_schema() -> None:
    for channel in DOC["channels"].values():
        for ref in channel["messages"].values():
            message = DOC["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            assert message["examples"], message["name"]
            for example in message["examples"]:
                key = example_key(example["payload"])
                assert CATALOGUE.problems(channel["address"], key, example["payload"]) == []


def test_every_field_the_consumer_requires_is_required_in_the_document() -> None:
    for topic, model in ((ORDERS, consumed.OrderStatusChanged), (BOOKINGS, consumed.BookingStatusChanged)):
        name = model.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
        schema = DOC["components"]["schemas"][{ORDERS: "orderStatusChanged", BOOKINGS: "bookingStatusChanged"}[topic]]
        needed = {f for f, info in model.model_fields.items() if info.is_required()}
        assert needed <= set(schema["required"]), (name, needed - set(schema["required"]))
        assert set(model.model_fields) - {"cancel_url"} <= set(schema["properties"]) | {"cancel_url"}


ITEMS = [OrderItem(sku=1076963, count=2, price=3490), OrderItem(sku=3596599, count=1, price=None)]


def order_event(status: OrderStatus, previous: OrderStatus | None) -> dict[str, Any]:
    return order_events.status_changed(
        order_id=42,
        user_id=7,
        status=status,
        previous_status=previous,
        items=ITEMS,
        total_price=None,
        occurred_at=NOW,
        payment_deadline=NOW + timedelta(minutes=10) if status == OrderStatus.AWAITING_PAYMENT else None,
        reason=CancelReason.TIMEOUT if status == OrderStatus.CANCELLED else None,
    )


@pytest.mark.parametrize("status", list(OrderStatus), ids=str)
def test_loms_events_of_every_status_match(status: OrderStatus) -> None:
    previous = None if status == OrderStatus.NEW else OrderStatus.NEW
    assert CATALOGUE.problems(ORDERS, "42", order_event(status, previous)) == []


def booking(status: BookingStatus, **kw: Any) -> Booking:
    fields: dict[str, Any] = {
        "booking_id": 88,
        "table_id": 4,
        "starts_at": NOW + timedelta(days=10),
        "ends_at": NOW + timedelta(days=10, hours=2),
        "name": "Erin Guest",
        "email": "erin@example.com",
        "phone": None,
        "price": 2500,
        "status": status,
        "cancelled_by": CancelledBy.CUSTOMER if status == BookingStatus.CANCELLED else None,
        "user_id": None,
        "created_at": NOW,
    }
    return Booking(**{**fields, **kw})


@pytest.mark.parametrize("status", list(BookingStatus), ids=str)
def test_booking_events_of_every_status_match(status: BookingStatus) -> None:
    previous = None if status == BookingStatus.PENDING else BookingStatus.PENDING
    event = booking_events.status_changed(booking(status), previous_status=previous, occurred_at=NOW)
    assert CATALOGUE.problems(BOOKINGS, "88", event) == []


def test_a_guests_first_booking_event_with_its_cancel_link_matches() -> None:
    link = booking_events.cancel_url("https://shop.example.com/", "tok_" + uuid.uuid4().hex)
    event = booking_events.status_changed(
        booking(BookingStatus.PENDING, phone="+4915112345678", email=None, user_id=5),
        previous_status=None,
        occurred_at=NOW,
        cancel_link=link,
    )
    assert CATALOGUE.problems(BOOKINGS, "88", event) == []
    later = {**event, "status": "confirmed", "previous_status": "pending"}
    assert any("cancel_url" in p or "should not be valid" in p for p in CATALOGUE.problems(BOOKINGS, "88", later))


@pytest.mark.parametrize("status", list(TaskStatus), ids=str)
def test_task_events_of_every_status_match(status: TaskStatus) -> None:
    for previous, previous_worker in ((None, None), (TaskStatus.ASSIGNED, 11)):
        event = task_status_changed(
            task_id=301,
            order_id=42,
            category="guitars",
            worker_id=None if status == TaskStatus.UNASSIGNED else 12,
            status=status,
            previous_status=previous,
            previous_worker_id=previous_worker,
            occurred_at=NOW,
        )
        assert CATALOGUE.problems(ORDERS, "42", event) == []
        assert CATALOGUE.problems(ORDERS, "42", {**event, "previous_worker_id": "11"})  # an id, or null


def test_a_task_event_as_the_contract_describes_it_matches() -> None:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "task.status_changed",
        "occurred_at": NOW.isoformat(),
        "task_id": 301,
        "order_id": 42,
        "category": "guitars",
        "worker_id": None,
        "status": "unassigned",
        "previous_status": None,
    }
    assert CATALOGUE.problems(ORDERS, "42", event) == []
    assert CATALOGUE.problems(ORDERS, "42", {**event, "status": "started"})


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda e: e.pop("payment_deadline"), "awaiting payment without its deadline"),
        (lambda e: e.update(reason="timeout"), "a reason while not cancelled"),
        (lambda e: e.update(status="shipped"), "an unknown status"),
        (lambda e: e.update(surprise=1), "a field the document does not have"),
        (lambda e: e.update(order_id="42"), "an id as a string"),
        (lambda e: e.update(event_id="not-a-uuid"), "an event id that is no UUID"),
        (lambda e: e.update(occurred_at="2026-12-05 08:00"), "a time without an offset"),
        (lambda e: e["items"][0].update(count=0), "an empty line"),
        (lambda e: e.update(type="order.shipped"), "an event type the document lacks"),
    ],
)
def test_the_schemas_refuse_what_the_contract_rules_out(change: Any, why: str) -> None:
    event = order_event(OrderStatus.AWAITING_PAYMENT, OrderStatus.NEW)
    change(event)
    assert CATALOGUE.problems(ORDERS, "42", event), why


def test_the_key_is_the_id_in_decimal() -> None:
    event = order_event(OrderStatus.PAID, OrderStatus.AWAITING_PAYMENT)
    assert CATALOGUE.problems(ORDERS, None, event)
    assert CATALOGUE.problems(ORDERS, "0042", event)
    assert CATALOGUE.problems(BOOKINGS, "88", event)  # an order event on the bookings topic


def test_the_document_is_where_the_readme_says() -> None:
    assert DOCUMENT == ROOT / "asyncapi" / "events.yaml"


@pytest.mark.parametrize(
    ("html", "offline"),
    [
        ('<html><script>var o={"disableTelemetry":true};</script></html>', True),
        (
            '<html><script src="https://cdn.redocly.com/redoc/v2/redoc.standalone.js"></script>'
            '<script>{"disableTelemetry":true}</script></html>',
            False,
        ),
        (
            '<html><link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">'
            '<script>{"disableTelemetry":true}</script></html>',
            False,
        ),
        (
            "<html><style>@import url('https://fonts.googleapis.com/x.css');</style>"
            '<script>{"disableTelemetry":true}</script></html>',
            False,
        ),
        ('<html><script>var o={"disableTelemetry":false};</script></html>', False),
        ('<html><script src="redoc.js"></script><script>{"disableTelemetry":true}</script></html>', True),
    ],
)
def test_the_docs_page_check_refuses_anything_fetched_from_elsewhere(tmp_path: Path, html: str, offline: bool) -> None:
    page = tmp_path / "page.html"
    page.write_text(html)
    assert (html_problems(page) == []) is offline


def test_a_stock_event_as_loms_builds_it_matches_under_its_key() -> None:
    event = order_events.stock_changed(
        warehouse_id=3, sku=1076963, total=40, reserved=3, previous_total=None, occurred_at=NOW
    )
    assert CATALOGUE.problems(ORDERS, "stock:3:1076963", event) == []
    assert CATALOGUE.problems(ORDERS, "1076963", event)  # keyed as an order's would be
    assert CATALOGUE.problems(ORDERS, "stock:3:1076963", {**event, "total": -1})
    assert CATALOGUE.problems(ORDERS, "stock:3:1076963", {**event, "available": 37})  # not in the document


def test_a_table_event_as_bookings_builds_it_matches_under_its_key() -> None:
    event = booking_events.table_changed(
        table_id=3, name="Window 3", kind="regular", seats=4, bookable=False, price=None, occurred_at=NOW
    )
    assert CATALOGUE.problems(BOOKINGS, "table:3", event) == []
    assert CATALOGUE.problems(BOOKINGS, "3", event)  # keyed as a booking's would be
    assert CATALOGUE.problems(BOOKINGS, "table:3", {**event, "seats": 0})
    assert CATALOGUE.problems(ORDERS, "table:3", event)  # a table event on the orders topic

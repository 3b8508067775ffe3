"""Order lines, totals, status transitions and the event shape."""

from datetime import UTC, datetime, timedelta

import pytest

from loms.domain.errors import InvalidTransition
from loms.domain.events import status_changed
from loms.domain.items import ItemsRejected, OrderItem, merge_items, total_price
from loms.domain.order import Order
from loms.domain.statuses import CancelReason, OrderStatus
from loms.domain.transitions import can_change, ensure_can_change

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_repeated_skus_merge_into_one_line_in_sku_order() -> None:
    merged = merge_items([OrderItem(5, 1, 10), OrderItem(2, 1), OrderItem(5, 2, 10)])
    assert merged == [OrderItem(2, 1), OrderItem(5, 3, 10)]


def test_merging_beyond_uint16_is_refused() -> None:
    with pytest.raises(ItemsRejected, match="65536"):
        merge_items([OrderItem(5, 65_000), OrderItem(5, 536)])


def test_merging_lines_with_different_prices_is_refused() -> None:
    with pytest.raises(ItemsRejected, match="different prices"):
        merge_items([OrderItem(5, 1, 10), OrderItem(5, 1, None)])


def test_total_is_the_sum_only_when_every_line_has_a_price() -> None:
    assert total_price([OrderItem(1, 2, 150), OrderItem(2, 1, 0)]) == 300
    assert total_price([OrderItem(1, 2, 150), OrderItem(2, 1)]) is None
    assert total_price([]) is None


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT, True),
        (OrderStatus.NEW, OrderStatus.FAILED, True),
        (OrderStatus.NEW, OrderStatus.CANCELLED, True),
        (OrderStatus.NEW, OrderStatus.PAID, False),
        (OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, True),
        (OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED, True),
        (OrderStatus.PAID, OrderStatus.CANCELLED, False),
        (OrderStatus.PAID, OrderStatus.PAID, False),
        (OrderStatus.FAILED, OrderStatus.PAID, False),
        (OrderStatus.FAILED, OrderStatus.CANCELLED, False),
        (OrderStatus.CANCELLED, OrderStatus.CANCELLED, False),
    ],
)
def test_transitions_follow_the_seed(current: OrderStatus, target: OrderStatus, allowed: bool) -> None:
    assert can_change(current, target) is allowed


def test_a_refused_transition_is_a_409_naming_the_status() -> None:
    with pytest.raises(InvalidTransition) as caught:
        ensure_can_change(7, OrderStatus.PAID, OrderStatus.CANCELLED)
    assert caught.value.status == 409
    assert caught.value.detail == "Order 7 is 'paid'; it cannot be cancelled"
    assert caught.value.extra == {"order_id": 7, "current_status": "paid"}


def order(status: OrderStatus) -> Order:
    return Order(42, 7, status, (OrderItem(3, 2, 100),), 200, NOW, NOW)


def test_event_has_exactly_the_contract_fields() -> None:
    event = order(OrderStatus.AWAITING_PAYMENT).change_event(OrderStatus.PAID, NOW)
    assert set(event) == {
        "event_id",
        "type",
        "occurred_at",
        "order_id",
        "user_id",
        "status",
        "previous_status",
        "items",
        "total_price",
    }
    assert event["type"] == "order.status_changed"
    assert (event["order_id"], event["user_id"], event["status"], event["previous_status"]) == (
        42,
        7,
        "paid",
        "awaiting payment",
    )
    assert event["items"] == [{"sku": 3, "count": 2, "price": 100}]
    assert event["occurred_at"] == "2026-01-02T03:04:05+00:00"


def test_awaiting_payment_event_carries_the_deadline_and_cancelled_the_reason() -> None:
    deadline = NOW + timedelta(minutes=10)
    reserved = order(OrderStatus.NEW).change_event(OrderStatus.AWAITING_PAYMENT, NOW, payment_deadline=deadline)
    assert reserved["payment_deadline"] == deadline.isoformat()
    cancelled = order(OrderStatus.AWAITING_PAYMENT).change_event(
        OrderStatus.CANCELLED, NOW, reason=CancelReason.TIMEOUT
    )
    assert cancelled["reason"] == "timeout"
    assert "payment_deadline" not in cancelled


def test_events_without_their_required_extras_are_refused() -> None:
    with pytest.raises(ValueError, match="deadline"):
        order(OrderStatus.NEW).change_event(OrderStatus.AWAITING_PAYMENT, NOW)
    with pytest.raises(ValueError, match="reason"):
        order(OrderStatus.NEW).change_event(OrderStatus.CANCELLED, NOW)


def test_each_event_gets_its_own_id() -> None:
    first = status_changed(
        order_id=1, user_id=1, status=OrderStatus.NEW, previous_status=None, items=[], total_price=None, occurred_at=NOW
    )
    second = status_changed(
        order_id=1, user_id=1, status=OrderStatus.NEW, previous_status=None, items=[], total_price=None, occurred_at=NOW
    )
    assert first["event_id"] != second["event_id"]


def test_wire_form_of_an_order() -> None:
    wire = order(OrderStatus.NEW).as_wire()
    assert wire["order_id"] == 42
    assert wire["status"] == "new"
    assert wire["created_at"] == "2026-01-02T03:04:05+00:00"
    assert wire["payment_deadline"] is None

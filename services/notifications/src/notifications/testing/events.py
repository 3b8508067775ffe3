"""Events shaped as CONTRACT.md says LOMS and the bookings service publish them, and a producer
for them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shopcommon.kafka import make_producer


def order_event(
    order_id: int, user_id: int, status: str, previous_status: str | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "order.status_changed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "order_id": order_id,
        "user_id": user_id,
        "status": status,
        "previous_status": previous_status,
        "items": [{"sku": 1001, "count": 2, "price": 24999}],
        "total_price": 49998,
    }
    if status == "awaiting payment":
        event["payment_deadline"] = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    if status == "cancelled":
        event["reason"] = "customer"
    event.update(extra)
    return event


def booking_event(
    booking_id: int,
    status: str,
    previous_status: str | None = None,
    *,
    email: str | None = "guest@guests.test",
    phone: str | None = None,
    user_id: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """As `bookings.domain.events.status_changed` writes it: the first event of a guest's request
    carries the cancel link, a cancelled one says by whom."""
    starts_at = datetime(2031, 3, 14, 16, 0, tzinfo=UTC)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "booking.status_changed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "booking_id": booking_id,
        "table_id": 7,
        "status": status,
        "previous_status": previous_status,
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
        "name": "Ada Guest",
        "email": email,
        "phone": phone,
        "price": 150000,
        "user_id": user_id,
    }
    if status == "cancelled":
        event["cancelled_by"] = "customer"
    if status == "pending" and previous_status is None:
        event["cancel_url"] = f"http://shop.test/bookings/cancel/tok-{booking_id}-{uuid.uuid4().hex}"
    event.update(extra)
    return event


def stock_event(warehouse_id: int, sku: int, total: int, previous_total: int | None, **extra: Any) -> dict[str, Any]:
    """As `loms.domain.events.stock_changed` writes it."""
    return {"event_id": str(uuid.uuid4()), "type": "stock.changed", "occurred_at": datetime.now(UTC).isoformat(),
            "warehouse_id": warehouse_id, "sku": sku, "total": total, "reserved": 0, "previous_total": previous_total,
            **extra}  # fmt: skip


def table_event(table_id: int, bookable: bool = True, **extra: Any) -> dict[str, Any]:
    """As `bookings.domain.events.table_changed` writes it."""
    return {"event_id": str(uuid.uuid4()), "type": "table.changed", "occurred_at": datetime.now(UTC).isoformat(),
            "table_id": table_id, "name": f"Window {table_id}", "kind": "regular", "seats": 4, "bookable": bookable,
            "price": 4550, **extra}  # fmt: skip


def event_key(event: dict[str, Any]) -> str:
    """The key its publisher gives it: the order's or booking's id; a stock row's or table's own."""
    if event.get("type") == "stock.changed":
        return f"stock:{event.get('warehouse_id')}:{event.get('sku')}"
    if event.get("type") == "table.changed":
        return f"table:{event.get('table_id')}"
    return str(event.get("order_id", event.get("booking_id")))


async def produce(
    bootstrap: str,
    topic: str,
    events: Iterable[dict[str, Any] | bytes],
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    """Publish as the relays do: keyed by the order (or booking) id so each stays in one partition,
    with these message headers (the relays send a `traceparent`). Every event is handed to the
    producer before any is awaited, so a burst lands at once (a consumer already in its group
    would otherwise keep pace with it); one partition's events still land in the order given."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        sent = []
        for event in events:
            if isinstance(event, bytes):
                value, subject = event, key or b"0"
            else:
                value, subject = orjson.dumps(event), event_key(event).encode()
            sent.append(await producer.send(topic, value, key=subject, headers=headers))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

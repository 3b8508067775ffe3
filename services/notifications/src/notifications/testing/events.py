"""Events shaped as CONTRACT.md says LOMS publishes them, and a producer for them."""

from __future__ import annotations

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


async def produce(
    bootstrap: str, topic: str, events: Iterable[dict[str, Any] | bytes], key: bytes | None = None
) -> None:
    """Publish as the LOMS relay does: keyed by the order id so one order stays in one partition."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for event in events:
            if isinstance(event, bytes):
                await producer.send_and_wait(topic, event, key=key or b"0")
            else:
                await producer.send_and_wait(topic, orjson.dumps(event), key=str(event.get("order_id")).encode())
    finally:
        await producer.stop()

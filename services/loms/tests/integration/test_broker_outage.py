"""The Kafka API goes away while orders move: events wait in the outbox and all arrive, in
order, once it is back (Tansu keeps topics in memory, so it comes back empty)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopcommon.devstack import servers
from shopcommon.testing.plugin import Stack

from ..conftest import Auth, Database, consume, eventually, new_sku


@pytest.fixture
def broker(shop_stack: Stack) -> Iterator[Any]:
    """The session's Tansu; whatever the test does, it is running again when the test ends."""
    proc = shop_stack.embedded.process("tansu")
    try:
        yield proc
    finally:
        if not proc.running:
            proc.start()
        servers.wait_port(proc, shop_stack.embedded.ports.kafka, "tansu")


async def published(db: Database, topic: str) -> bool:
    return await db.value("SELECT count(*) FROM outbox WHERE topic = $1", topic) == 0


async def test_events_made_while_the_broker_is_down_all_arrive_in_order_when_it_is_back(
    client: httpx.AsyncClient,
    auth: Auth,
    db: Database,
    topic: str,
    broker: Any,
    shop_stack: Stack,
) -> None:
    sku = new_sku()
    await db.stock(sku, 100)
    orders = []
    for i in range(12):
        r = await client.post(
            "/api/v1/orders",
            json={"user_id": 80 + i, "items": [{"sku": sku, "count": 1}]},
            headers={**auth.service(), "Prefer": "wait=5"},
        )
        orders.append(r.json()["order_id"])
    assert await eventually(lambda: published(db, topic))

    broker.stop()
    moves = [
        client.post(f"/api/v1/orders/{o}/{'pay' if i % 2 else 'cancel'}", headers=auth.service())
        for i, o in enumerate(orders)
    ]
    assert {r.status_code for r in await asyncio.gather(*moves)} == {200}
    more = await client.post(
        "/api/v1/orders",
        json={"user_id": 99, "items": [{"sku": sku, "count": 1}]},
        headers={**auth.service(), "Prefer": "wait=5"},
    )
    assert more.json()["status"] == "awaiting payment"
    await asyncio.sleep(1.5)  # the relay keeps trying meanwhile
    # What the outage held back: every event made since, still in the outbox.
    made = [
        dict(r)
        for r in await db.fetch(
            "SELECT id, key, payload->>'event_id' AS event_id, payload->>'status' AS status FROM outbox "
            "WHERE topic = $1 ORDER BY id",
            topic,
        )
    ]
    assert len(made) == 12 + 2

    broker.start()
    await asyncio.to_thread(servers.wait_port, broker, shop_stack.embedded.ports.kafka, "tansu")
    assert await eventually(lambda: published(db, topic), timeout=30)

    events = await consume(
        shop_stack.urls.kafka_bootstrap_servers,
        topic,
        lambda evs: {e["event_id"] for e in evs} >= {m["event_id"] for m in made},
    )
    arrived: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for event in events:
        if event["event_id"] not in seen:  # at least once: consumers keep the first copy
            seen.add(event["event_id"])
            arrived[event["_key"]].append(event["event_id"])
    assert {m["event_id"] for m in made} <= seen
    expected: dict[str, list[str]] = defaultdict(list)
    for m in made:
        expected[m["key"]].append(m["event_id"])
    for key, ids in expected.items():
        assert [e for e in arrived[key] if e in set(ids)] == ids

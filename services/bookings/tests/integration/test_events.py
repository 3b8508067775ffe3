"""Every status change reaches `bookings.booking-events` through the outbox: shaped as the contract
says, in order per booking, and after a broker outage too (Tansu comes back empty)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from shopcommon.devstack import servers
from shopcommon.testing.plugin import Stack

from ..conftest import Auth, Database, at, booking_body, consume, eventually

CONTRACT_FIELDS = {"event_id", "type", "occurred_at", "booking_id", "table_id", "status", "previous_status",
                   "starts_at", "ends_at", "name", "email", "phone", "price"}  # fmt: skip


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


async def outbox_empty(db: Database) -> bool:
    return await db.value("SELECT count(*) FROM outbox") == 0


async def life(client: httpx.AsyncClient, auth: Auth, table: int, hour: int, ending: str) -> int:
    """Request, confirm, then cancel (staff) or leave confirmed; the booking id."""
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(hour), 1, phone="+1 555 0100"))
    booking_id = int(r.json()["booking_id"])
    await client.post(f"/api/v1/bookings/{booking_id}/confirm", headers=auth.manager())
    if ending == "cancel":
        await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=auth.manager())
    return booking_id


def by_booking(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["event_id"] not in seen:  # at least once: consumers keep the first copy
            seen.add(event["event_id"])
            out[event["_key"]].append(event)
    return out


async def test_each_change_is_published_in_order_keyed_by_booking(
    client: httpx.AsyncClient, auth: Auth, db: Database, topic: str, shop_stack: Stack
) -> None:
    table = await db.table(price=4200)
    ids = [await life(client, auth, table, hour, "cancel" if hour % 2 else "keep") for hour in range(8, 14)]
    assert await eventually(lambda: outbox_empty(db))
    events = await consume(shop_stack.urls.kafka_bootstrap_servers, topic, lambda evs: len(evs) >= 15)
    grouped = by_booking(events)
    for booking_id in ids:
        mine = grouped[str(booking_id)]
        expected = [("pending", None), ("confirmed", "pending")] + (
            [("cancelled", "confirmed")] if booking_id in ids[1::2] else []
        )
        assert [(e["status"], e["previous_status"]) for e in mine] == expected
        for event in mine:
            assert set(event) >= CONTRACT_FIELDS
            assert (event["type"], event["booking_id"], event["table_id"], event["price"]) == (
                "booking.status_changed",
                booking_id,
                table,
                4200,
            )
            assert (event["email"], event["phone"]) == ("anna@example.com", "+1 555 0100")
        assert mine[0]["cancel_url"].startswith("http://pages.test/bookings/cancel/")
        assert all("cancel_url" not in e for e in mine[1:])
        if len(mine) == 3:
            assert mine[2]["cancelled_by"] == "staff"


async def test_events_made_while_the_broker_is_down_all_arrive_in_order_when_it_is_back(
    client: httpx.AsyncClient, auth: Auth, db: Database, topic: str, broker: Any, shop_stack: Stack
) -> None:
    table = await db.table()
    first = [await life(client, auth, table, hour, "keep") for hour in (20, 22)]
    assert await eventually(lambda: outbox_empty(db))

    broker.stop()
    for booking_id in first:
        assert (await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=auth.manager())).status_code == 200
    during = [await life(client, auth, table, hour, "cancel") for hour in (30, 32)]
    await asyncio.sleep(1.5)  # the relay keeps trying meanwhile
    made = [dict(r) for r in await db.fetch("SELECT key, payload->>'event_id' AS event_id FROM outbox ORDER BY id")]
    assert len(made) == 2 + 2 * 3

    broker.start()
    await asyncio.to_thread(servers.wait_port, broker, shop_stack.embedded.ports.kafka, "tansu")
    assert await eventually(lambda: outbox_empty(db), timeout=30)
    wanted = {m["event_id"] for m in made}
    events = await consume(
        shop_stack.urls.kafka_bootstrap_servers, topic, lambda evs: {e["event_id"] for e in evs} >= wanted
    )
    grouped = by_booking(events)
    for key in {m["key"] for m in made}:
        assert [e["event_id"] for e in grouped[key] if e["event_id"] in wanted] == [
            m["event_id"] for m in made if m["key"] == key
        ]
    assert {str(b) for b in first + during} == {m["key"] for m in made}


async def test_each_change_of_a_table_is_published_keyed_by_table(
    client: httpx.AsyncClient, auth: Auth, db: Database, topic: str, shop_stack: Stack
) -> None:
    made = await client.post("/api/v1/tables", json={"name": "Window 7", "kind": "regular", "seats": 2, "price": 900},
                             headers=auth.manager())  # fmt: skip
    assert made.status_code == 201, made.text
    table = made.json()["table_id"]
    assert (await client.patch(f"/api/v1/tables/{table}", json={"seats": 4, "bookable": False},
                               headers=auth.manager())).status_code == 200  # fmt: skip
    assert (await client.post(f"/api/v1/tables/{table}/prices", json={"price": 1250},
                              headers=auth.manager())).status_code == 201  # fmt: skip
    refused = await client.patch(f"/api/v1/tables/{table}", json={"seats": 0}, headers=auth.manager())
    assert refused.status_code == 422
    assert await eventually(lambda: outbox_empty(db))
    key = f"table:{table}"
    events = await consume(shop_stack.urls.kafka_bootstrap_servers, topic,
                           lambda evs: sum(1 for e in evs if e["_key"] == key) >= 3)  # fmt: skip
    mine = by_booking(events)[key]
    assert [(e["seats"], e["bookable"], e["price"]) for e in mine] == [
        (2, True, 900),
        (4, False, 900),
        (4, False, 1250),
    ]
    for event in mine:
        assert set(event) - {"_key", "_partition"} == {"event_id", "type", "occurred_at", "table_id", "name", "kind",
                                                       "seats", "bookable", "price"}  # fmt: skip
        assert (event["type"], event["table_id"], event["name"], event["kind"]) == (
            "table.changed",
            table,
            "Window 7",
            "regular",
        )


async def test_a_price_set_while_the_table_changes_waits_and_its_event_tells_both(
    client: httpx.AsyncClient, auth: Auth, db: Database, topic: str, shop_stack: Stack
) -> None:
    table = await db.table(price=900, seats=4)
    changing = await asyncpg.connect(db.url)
    try:
        change = changing.transaction()
        await change.start()
        # Not the name: a unique column's update already held off the price's foreign key check.
        await changing.execute("UPDATE tables SET seats = 6 WHERE id = $1", table)
        pricing = asyncio.create_task(
            client.post(f"/api/v1/tables/{table}/prices", json={"price": 1250}, headers=auth.manager())
        )
        await asyncio.sleep(0.3)
        assert not pricing.done()  # it waits for the change under way ...
        await change.commit()
    finally:
        await changing.close()
    assert (await pricing).status_code == 201
    key = f"table:{table}"
    events = await consume(shop_stack.urls.kafka_bootstrap_servers, topic,
                           lambda evs: any(e["_key"] == key for e in evs))  # fmt: skip
    (event,) = by_booking(events)[key]
    assert (event["seats"], event["price"]) == (6, 1250)  # ... and tells both

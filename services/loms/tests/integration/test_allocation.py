"""The allocation rules of the reservation statement, on real stock rows: greedy by most stock
available (ties to the lower warehouse id), counting what other orders hold, all lines or none,
every short line named. Both ways in are covered: the create request and the intake worker."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import orjson
import pytest

from loms.config import Settings
from loms.services.reserve import reserve_next
from shopcommon.db import make_engine
from shopcommon.testing.plugin import Stack

from ..conftest import Auth, Database, consume, eventually, new_sku
from .test_orders import create


async def test_one_warehouse_with_enough_takes_the_whole_line_from_the_fullest(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 2, 10, 5)
    r = await create(client, auth.customer(301), 301, (sku, 3))
    assert r.json()["status"] == "awaiting payment"
    assert await db.held(r.json()["order_id"]) == {wh[1]: 3}


async def test_a_line_takes_everything_from_the_fullest_then_the_next(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 4, 10, 5)
    r = await create(client, auth.customer(302), 302, (sku, 16))
    assert await db.held(r.json()["order_id"]) == {wh[1]: 10, wh[2]: 5, wh[0]: 1}
    assert await db.levels(sku) == {"total": 19, "reserved": 16, "written_off": 0, "available": 3}


async def test_equal_stock_goes_to_the_lower_warehouse_id(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 5, 0, 5)
    r = await create(client, auth.customer(303), 303, (sku, 2))
    assert await db.held(r.json()["order_id"]) == {wh[0]: 2}


async def test_exactly_all_the_stock_is_enough(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 4, 5)
    r = await create(client, auth.customer(304), 304, (sku, 9))
    assert r.json()["status"] == "awaiting payment"
    assert await db.held(r.json()["order_id"]) == {wh[0]: 4, wh[1]: 5}
    assert (await db.levels(sku))["available"] == 0


async def test_what_other_orders_hold_is_not_available(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 6, 4)
    first = await create(client, auth.customer(305), 305, (sku, 5))
    assert await db.held(first.json()["order_id"]) == {wh[0]: 5}
    # Now the second warehouse has more available (4 against 1), so it goes first.
    second = await create(client, auth.customer(305), 305, (sku, 5))
    assert await db.held(second.json()["order_id"]) == {wh[1]: 4, wh[0]: 1}
    third = await create(client, auth.customer(305), 305, (sku, 1))
    assert third.json()["status"] == "failed"
    assert third.json()["shortages"] == [{"sku": sku, "requested": 1, "available": 0}]


async def test_one_short_line_fails_the_whole_order_and_only_it_is_named(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    plenty, scarce = new_sku(), new_sku()
    await db.stock(plenty, 10)
    await db.stock(scarce, 3, 2)
    before = await db.counts()
    r = await create(client, auth.customer(306), 306, (plenty, 1), (scarce, 6))
    assert r.json()["status"] == "failed"
    assert r.json()["shortages"] == [{"sku": scarce, "requested": 6, "available": 5}]
    assert await db.held(r.json()["order_id"]) == {}
    after = await db.counts()
    assert (after["reserved"], after["total"], after["reservations"]) == (
        before["reserved"],
        before["total"],
        before["reservations"],
    )


async def test_every_short_line_is_named_in_sku_order(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    low, high, unstocked = sorted([new_sku(), new_sku(), new_sku()])
    await db.stock(low, 1)
    await db.stock(high, 0, 4)
    r = await create(client, auth.customer(307), 307, (unstocked, 2), (high, 5), (low, 5))
    assert r.json()["shortages"] == [
        {"sku": low, "requested": 5, "available": 1},
        {"sku": high, "requested": 5, "available": 4},
        {"sku": unstocked, "requested": 2, "available": 0},
    ]
    stored = await db.value("SELECT shortages FROM orders WHERE id = $1", r.json()["order_id"])
    assert orjson.loads(stored) == r.json()["shortages"]


async def test_empty_warehouses_are_never_given_a_reservation(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 0, 0, 2)
    r = await create(client, auth.customer(308), 308, (sku, 2))
    assert await db.held(r.json()["order_id"]) == {wh[2]: 2}


async def test_a_failed_order_with_a_key_replays_its_shortages(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 1)
    headers = {**auth.service(), "Idempotency-Key": f"alloc-{sku}", "Prefer": "wait=5"}
    body = {"user_id": 309, "items": [{"sku": sku, "count": 2, "price": 10}]}
    first = await client.post("/api/v1/orders", json=body, headers=headers)
    again = await client.post("/api/v1/orders", json=body, headers=headers)
    assert first.json()["status"] == "failed"
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()


async def test_the_intake_worker_allocates_by_the_same_rules(
    client: httpx.AsyncClient, auth: Auth, db: Database, settings: Settings
) -> None:
    sku, short = new_sku(), new_sku()
    wh = await db.stock(sku, 3, 7)
    # Orders recorded as `new` without the create request reserving them: the worker's to settle.
    ids = []
    for lines in ([(sku, 8)], [(sku, 1), (short, 1)]):
        ids.append(
            await db.value(
                "WITH o AS (INSERT INTO orders (user_id, status, created_at, updated_at) "
                "VALUES (310, 'new', now() - interval '1 hour', now() - interval '1 hour') RETURNING id), "
                "i AS (INSERT INTO order_items (order_id, sku, count) "
                "SELECT o.id, l.sku, l.count FROM o, unnest($1::bigint[], $2::int[]) AS l(sku, count)) "
                "SELECT id FROM o",
                [s for s, _ in lines],
                [c for _, c in lines],
            )
        )
    # This module's app runs an intake worker too: whichever of it and this call takes an order,
    # both settle it through `reserve_next`.
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        while await reserve_next(engine, settings=settings) is not None:
            pass
    finally:
        await engine.dispose()

    async def settled() -> bool:
        statuses = await db.fetch("SELECT status FROM orders WHERE id = ANY($1::bigint[])", ids)
        return all(r["status"] != "new" for r in statuses)

    assert await eventually(settled)
    reserved = await client.get(f"/api/v1/orders/{ids[0]}", headers=auth.customer(310))
    failed = await client.get(f"/api/v1/orders/{ids[1]}", headers=auth.customer(310))
    assert reserved.json()["status"] == "awaiting payment"
    assert await db.held(ids[0]) == {wh[1]: 7, wh[0]: 1}
    assert failed.json()["status"] == "failed"
    assert failed.json()["shortages"] == [{"sku": short, "requested": 1, "available": 0}]
    assert await db.held(ids[1]) == {}


async def test_the_outcome_events_carry_what_the_contract_says(
    client: httpx.AsyncClient, auth: Auth, db: Database, shop_stack: Stack, topic: str
) -> None:
    plenty, scarce = new_sku(), new_sku()
    await db.stock(plenty, 5)
    reserved = (await create(client, auth.customer(311), 311, (plenty, 2))).json()
    failed = (await create(client, auth.customer(311), 311, (scarce, 2))).json()
    wanted = {reserved["order_id"], failed["order_id"]}
    events = await consume(
        shop_stack.urls.kafka_bootstrap_servers,
        topic,
        lambda evs: sum(1 for e in evs if e["order_id"] in wanted and e["status"] != "new") >= 2,
    )
    mine = [e for e in events if e["order_id"] in wanted]
    assert len({e["event_id"] for e in mine}) == len(mine) == 4
    outcome = {e["order_id"]: e for e in mine if e["status"] != "new"}
    ok, short = outcome[reserved["order_id"]], outcome[failed["order_id"]]
    assert ok["status"] == "awaiting payment"
    assert ok["payment_deadline"] is not None
    assert short["status"] == "failed"
    assert "payment_deadline" not in short
    for event, order in ((ok, reserved), (short, failed)):
        assert event["type"] == "order.status_changed"
        assert event["previous_status"] == "new"
        assert event["user_id"] == 311
        assert event["items"] == order["items"]
        assert event["_key"] == str(order["order_id"])


@pytest.mark.parametrize(
    ("before", "committed", "outcome"),
    [
        (10, 3, "failed"),  # cut while waiting: the order is short
        (10, 100, "awaiting payment"),  # raised while waiting: the raise is kept
        (3, 10, "awaiting payment"),  # raised while waiting, beyond what the snapshot saw: run again
    ],
)
async def test_stock_committed_while_the_reservation_waited_for_its_lock_is_what_counts(
    client: httpx.AsyncClient, auth: Auth, db: Database, before: int, committed: int, outcome: str
) -> None:
    sku = new_sku()
    await db.stock(sku, before)
    staff = await asyncpg.connect(db.url)
    try:
        async with staff.transaction():
            await staff.execute("UPDATE stocks SET total = $2 WHERE sku = $1", sku, committed)
            pending = asyncio.create_task(create(client, auth.customer(312), 312, (sku, 5)))

            async def waiting_for_the_row() -> bool:
                return await db.reservations_waiting_for_stock() > 0

            assert await eventually(waiting_for_the_row)
            assert not pending.done()
        r = await pending
    finally:
        await staff.close()
    assert r.json()["status"] == outcome
    levels = await db.levels(sku)
    assert levels["total"] == committed
    assert levels["reserved"] == (5 if outcome == "awaiting payment" else 0)
    if outcome == "failed":
        assert r.json()["shortages"] == [{"sku": sku, "requested": 5, "available": committed}]

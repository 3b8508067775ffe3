"""Creates that wait for their outcome are placed in batches (`services/order_placer.py`): orders that
arrive together share a transaction, and each still gets its own outcome, events and answer."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from loms.db import WRITER_SEND_BUFFER
from loms.domain.items import OrderItem
from loms.repositories import order_ids, placement
from loms.repositories.placement import Placement
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, consume, eventually, make_settings, new_sku, running_app


@pytest.fixture(scope="module")
async def one_lane(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """One batch at a time: whatever arrives while it runs goes into the next."""
    settings = make_settings(shop_stack, loms_db, test_issuer, topic, order_lanes=1)
    async with running_app(settings) as app_and_client:
        yield app_and_client


def create(client: httpx.AsyncClient, auth: Auth, user_id: int, *lines: tuple[int, int], **headers: str) -> Any:
    return client.post(
        "/api/v1/orders",
        json={"user_id": user_id, "items": [{"sku": sku, "count": count} for sku, count in lines]},
        headers={**auth.service(), "Prefer": "wait=5", **headers},
    )


async def test_orders_arriving_together_share_batches_and_each_gets_its_outcome(
    one_lane: tuple[FastAPI, httpx.AsyncClient], auth: Auth, db: Database, shop_stack: Stack, topic: str
) -> None:
    app, client = one_lane
    placer = app.state.placer
    plenty, scarce = new_sku(), new_sku()
    await db.stock(plenty, 100, 100)
    await db.stock(scarce, 1, 2)
    batches_before, orders_before, failed_before = placer.batches, placer.orders, placer.failed_batches
    answers = await asyncio.gather(*(create(client, auth, 4000 + n, (plenty, 3), (scarce, 1)) for n in range(30)))
    # Fewer transactions than orders: they were placed together.
    assert placer.orders - orders_before == 30
    assert placer.batches - batches_before < 30
    assert placer.failed_batches == failed_before
    assert {a.status_code for a in answers} == {201}
    by_status = Counter(a.json()["status"] for a in answers)
    assert by_status == {"awaiting payment": 3, "failed": 27}
    # All lines or none: the failed orders took nothing of the plentiful sku either.
    assert (await db.levels(plenty))["reserved"] == 9
    assert (await db.levels(scarce))["reserved"] == 3
    for answer in answers:
        body = answer.json()
        held = await db.held(body["order_id"])
        if body["status"] == "failed":
            assert held == {}
            assert body["shortages"] == [{"sku": scarce, "requested": 1, "available": 0}]
            assert body["payment_deadline"] is None
        else:
            assert sum(held.values()) == 4
            assert body["shortages"] is None and body["payment_deadline"] is not None
        stored = await db.fetch("SELECT status FROM orders WHERE id = $1", body["order_id"])
        assert [r["status"] for r in stored] == [body["status"]]
    # Each order's two events, `new` first, published in that order.
    wanted = {a.json()["order_id"] for a in answers}
    events = await consume(
        shop_stack.urls.kafka_bootstrap_servers,
        topic,
        lambda evs: sum(1 for e in evs if e["order_id"] in wanted) >= 60,
    )
    per_order: dict[int, list[str]] = {}
    for event in events:
        if event["order_id"] in wanted:
            per_order.setdefault(event["order_id"], []).append(event["status"])
    assert {tuple(statuses) for statuses in per_order.values()} <= {
        ("new", "awaiting payment"),
        ("new", "failed"),
    }
    assert len(per_order) == 30


async def test_one_key_twice_in_a_batch_makes_one_order_and_one_answer(
    one_lane: tuple[FastAPI, httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    app, client = one_lane
    placer = app.state.placer
    sku = new_sku()
    await db.stock(sku, 50)
    batches_before, failed_before = placer.batches, placer.failed_batches
    # A first order keeps the lane busy while the rest queue into one batch together.
    answers = await asyncio.gather(
        create(client, auth, 4100, (sku, 1)),
        *(create(client, auth, 4101, (sku, 2), **{"Idempotency-Key": "twice-in-a-batch"}) for _ in range(6)),
    )
    keyed = answers[1:]
    assert {a.status_code for a in keyed} == {201}
    assert len({a.content for a in keyed}) == 1, "every answer is the first one's"
    assert sum(1 for a in keyed if a.headers.get("Idempotent-Replayed") == "true") == 5
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 4101") == 1
    assert (await db.levels(sku))["reserved"] == 3
    # The duplicates were found inside their batch, not by running it again or one by one.
    assert placer.batches - batches_before <= 2
    assert placer.failed_batches == failed_before


async def test_an_order_the_database_refuses_fails_alone_and_its_batch_is_placed_without_it(
    one_lane: tuple[FastAPI, httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    _, client = one_lane
    sku = new_sku()
    await db.stock(sku, 100)
    # Something only the database knows is wrong with one order (a trigger stands in for it).
    await db.fetch(
        "CREATE FUNCTION refuse_4299() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.user_id = 4299 THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
    )
    await db.fetch("CREATE TRIGGER refuse_4299 BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_4299()")
    try:
        answers = await asyncio.gather(
            *(create(client, auth, 4200 + n, (sku, 1)) for n in range(10)),
            create(client, auth, 4299, (sku, 1), **{"Idempotency-Key": "refused-order"}),
            *(create(client, auth, 4210 + n, (sku, 1)) for n in range(10)),
        )
    finally:
        await db.fetch("DROP TRIGGER refuse_4299 ON orders")
        await db.fetch("DROP FUNCTION refuse_4299()")
    refused = answers[10]
    placed = answers[:10] + answers[11:]
    assert refused.status_code == 500
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [a.status_code for a in placed] == [201] * 20
    assert {a.json()["status"] for a in placed} == {"awaiting payment"}
    # Placed once each; nothing at all of the refused one, its key free for a retry.
    assert await db.value("SELECT count(*) FROM orders WHERE user_id BETWEEN 4200 AND 4219") == 20
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 4299") == 0
    assert await db.value("SELECT count(*) FROM idempotency_keys WHERE key = 'refused-order'") == 0
    assert (await db.levels(sku))["reserved"] == 20
    retry = await create(client, auth, 4299, (sku, 1), **{"Idempotency-Key": "refused-order"})
    assert (retry.status_code, retry.json()["status"]) == (201, "awaiting payment")


async def test_a_writer_takes_a_whole_batch_into_its_send_buffer_at_once(
    one_lane: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = one_lane
    # What the kernel does not take at once would follow a turn of the event loop later, with the
    # batch's stock locks held meanwhile.
    ceiling = int(Path("/proc/sys/net/core/wmem_max").read_text())
    async with app.state.db.writers.acquire() as conn:
        sock = conn._transport.get_extra_info("socket")
        # Exactly what an explicit size gives (doubled, capped), not what autotuning grew to.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 2 * min(WRITER_SEND_BUFFER, ceiling)


def _placement(order_id: int, user_id: int, sku: int) -> Placement:
    now = datetime.now(UTC)
    event = {"order_id": order_id, "status": "new"}
    return Placement(
        order_id=order_id,
        user_id=user_id,
        items=(OrderItem(sku, 1),),
        total_price=None,
        now=now,
        deadline=now + timedelta(minutes=10),
        topic="loms.order-events.unpublished",
        request_id=None,
        new_event=event,
        reserved_event={**event, "status": "awaiting payment"},
        failed_event={**event, "status": "failed"},
    )


async def test_two_batches_taking_the_same_skus_in_opposite_orders_do_not_deadlock(db: Database) -> None:
    first, second = new_sku(), new_sku()
    await db.stock(first, 10)
    await db.stock(second, 10)
    a, b, gate = [await asyncpg.connect(db.url) for _ in range(3)]
    try:
        ids = await order_ids.next_order_ids(a, 4)
        batch_a = [_placement(ids[0], 4500, first), _placement(ids[1], 4500, second)]
        batch_b = [_placement(ids[2], 4501, second), _placement(ids[3], 4501, first)]
        # Both batches start while another transaction holds both rows, and get them at once: had
        # each order locked only its own sku, A would hold `first` and want `second`, B the reverse.
        async with gate.transaction():
            await gate.execute("SELECT 1 FROM stocks WHERE sku = ANY($1::bigint[]) FOR UPDATE", [first, second])
            placing = [
                asyncio.create_task(placement.place_orders(a, batch_a, notify=False)),
                asyncio.create_task(placement.place_orders(b, batch_b, notify=False)),
            ]
            await asyncio.sleep(0.2)
        done = await asyncio.gather(*placing, return_exceptions=True)
        # A deadlock would fail one of them (DeadlockDetectedError) a second later.
        assert [[p.placed for p in result] for result in done] == [[True, True], [True, True]], done
    finally:
        await db.fetch("DELETE FROM outbox WHERE topic = 'loms.order-events.unpublished'")
        for conn in (a, b, gate):
            await conn.close()
    assert (await db.levels(first))["reserved"] == 2
    assert (await db.levels(second))["reserved"] == 2


async def test_four_lanes_of_batches_sharing_skus_place_every_order_once(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, auth: Auth, db: Database
) -> None:
    skus = [new_sku() for _ in range(4)]
    for sku in skus:
        await db.stock(sku, 1000, 1000)
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-lanes", order_lanes=4)
    async with running_app(settings) as (app, client):
        placer = app.state.placer
        # Each order names the skus in an order of its own; batches lock theirs in sku order.
        orders = [[skus[(n + k) % 4] for k in range(1 + n % 4)][:: 1 if n % 2 else -1] for n in range(120)]
        answers = await asyncio.gather(
            *(create(client, auth, 4400 + n, *((sku, 1) for sku in lines)) for n, lines in enumerate(orders))
        )
        assert placer.failed_batches == 0
        assert placer.orders == 120 and placer.batches < 120
    assert {(a.status_code, a.json()["status"]) for a in answers} == {(201, "awaiting payment")}
    taken = Counter(sku for lines in orders for sku in lines)
    for sku in skus:
        assert (await db.levels(sku))["reserved"] == taken[sku]


async def test_the_same_key_from_two_batches_at_once_is_placed_once_and_replayed(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-two-lanes", order_lanes=2)
    gate = await asyncpg.connect(db.url)
    try:
        async with running_app(settings) as (app, client):
            placer = app.state.placer
            # Both copies wait for the stock rows, in two batches, having looked for the key before
            # either stored it: the second finds it taken only when it writes it.
            async with gate.transaction():
                await gate.execute("SELECT 1 FROM stocks WHERE sku = $1 FOR UPDATE", sku)

                async def waiting(count: int) -> bool:
                    return await db.reservations_waiting_for_stock() == count

                copies = []
                for count in (1, 2):  # the second arrives while the first's batch waits: a batch of its own
                    copies.append(
                        asyncio.create_task(create(client, auth, 4600, (sku, 1), **{"Idempotency-Key": "two-batches"}))
                    )
                    assert await eventually(lambda count=count: waiting(count))
            first, second = await asyncio.gather(*copies)
            assert placer.failed_batches == 0
    finally:
        await gate.close()
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert {first.headers.get("Idempotent-Replayed"), second.headers.get("Idempotent-Replayed")} == {None, "true"}
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 4600") == 1
    assert (await db.levels(sku))["reserved"] == 1


async def test_a_failed_order_is_replayed_for_its_key(
    one_lane: tuple[FastAPI, httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    _, client = one_lane
    sku = new_sku()
    await db.stock(sku, 1)
    first = await create(client, auth, 4700, (sku, 2), **{"Idempotency-Key": "failed-then-replayed"})
    again = await create(client, auth, 4700, (sku, 2), **{"Idempotency-Key": "failed-then-replayed"})
    assert (first.status_code, first.json()["status"]) == (201, "failed")
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 4700") == 1


async def test_an_order_no_batch_takes_within_its_wait_is_recorded_new_for_the_intake_worker(
    one_lane: tuple[FastAPI, httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    """`Prefer: wait=N` bounded nothing: behind a batch stuck on a locked stock row, a create
    waited as long as the lock was held, though it wanted none of that stock."""
    _, client = one_lane
    stuck, free = new_sku(), new_sku()
    await db.stock(stuck, 10)
    await db.stock(free, 10)
    holder = await asyncpg.connect(db.url)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM stocks WHERE sku = $1 FOR UPDATE", stuck)
            first = asyncio.create_task(create(client, auth, 4301, (stuck, 1), Prefer="wait=30"))

            async def lane_taken() -> bool:
                return await db.fetch("SELECT 1 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'") != []

            await eventually(lane_taken)  # the only lane's batch waits for the row
            second = await asyncio.wait_for(create(client, auth, 4302, (free, 2), Prefer="wait=1"), 10)
            assert second.status_code == 201, second.text
            order_id = second.json()["order_id"]
            assert second.json()["status"] == "new"

            async def reserved() -> list[Any]:
                return await db.fetch("SELECT 1 FROM orders WHERE id = $1 AND status = 'awaiting payment'", order_id)

            await eventually(reserved)  # by the intake worker, while the lock is still held
            assert not first.done()
    finally:
        await holder.close()
    assert (await first).json()["status"] == "awaiting payment"


async def test_an_order_that_keeps_meeting_concurrent_stock_changes_goes_to_the_intake_worker(
    one_lane: tuple[FastAPI, httpx.AsyncClient], auth: Auth, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stock released while a placement waited for its row fails the statement's check (its snapshot
    still sees the units held); once the runs again were spent the create answered 500."""
    from loms.services import order_placer

    monkeypatch.setattr(order_placer, "RETRIES_AFTER_CONFLICT", 0)  # the first conflict spends them
    _, client = one_lane
    sku = new_sku()
    await db.stock(sku, 10)
    await db.fetch("UPDATE stocks SET reserved = 8 WHERE sku = $1", sku)
    holder = await asyncpg.connect(db.url)
    try:
        async with holder.transaction():
            await holder.execute("UPDATE stocks SET reserved = 0 WHERE sku = $1", sku)  # a cancel releases 8
            placing = asyncio.create_task(create(client, auth, 4401, (sku, 5)))

            async def waiting() -> bool:
                return await db.fetch("SELECT 1 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'") != []

            await eventually(waiting)  # the batch waits for the row, with a snapshot from before the release
    finally:
        await holder.close()
    answer = await placing
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "new"
    order_id = answer.json()["order_id"]

    async def reserved() -> list[Any]:
        return await db.fetch("SELECT 1 FROM orders WHERE id = $1 AND status = 'awaiting payment'", order_id)

    await eventually(reserved)  # by the intake worker
    assert (await db.levels(sku))["reserved"] == 5

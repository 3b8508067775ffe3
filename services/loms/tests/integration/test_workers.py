"""The workers in pairs (as two replicas would run them): intake, expiry and the outbox relay."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from loms.config import Settings
from loms.repositories.order_events import OUTBOX
from loms.workers.expiry import ExpiryWorker
from loms.workers.intake import IntakeWorker
from loms.workers.supervisor import outbox_listener, outbox_relay
from shopcommon.db import make_engine
from shopcommon.outbox import Worker
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, consume, eventually, make_settings, new_sku, running_app

NEXT = {"new": {"awaiting payment", "failed", "cancelled"}, "awaiting payment": {"paid", "cancelled"}}


@pytest.fixture(scope="module")
def paired_settings(shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str) -> Settings:
    """The API alone (no workers of its own); the test runs the workers."""
    return make_settings(
        shop_stack,
        loms_db,
        test_issuer,
        topic,
        intake_enabled=False,
        expiry_enabled=False,
        relay_enabled=False,
        payment_timeout=600,
    )


@pytest.fixture
async def two_of_each(paired_settings: Settings) -> AsyncIterator[dict[str, list[Any]]]:
    engine = make_engine(paired_settings.database_url, pool_size=10)
    listener = outbox_listener(paired_settings)
    workers: dict[str, list[Any]] = {
        "intake": [IntakeWorker(engine, paired_settings, listener.subscribe()) for _ in range(2)],
        "expiry": [ExpiryWorker(engine, paired_settings) for _ in range(2)],
        "relay": [outbox_relay(engine, paired_settings, listener.subscribe()) for _ in range(2)],
    }
    listener.start()
    everyone: list[Worker] = [w for group in workers.values() for w in group]
    for worker in everyone:
        worker.start()
    try:
        yield workers
    finally:
        for worker in everyone:
            await worker.stop()
        await listener.stop()
        await engine.dispose()


async def test_two_of_each_worker_reserve_cancel_and_publish_everything_once_in_order(
    paired_settings: Settings,
    two_of_each: dict[str, list[Any]],
    auth: Auth,
    db: Database,
    shop_stack: Stack,
) -> None:
    skus = [new_sku() for _ in range(3)]
    for sku in skus:
        await db.stock(sku, 15, 10)
    rng = random.Random(7)
    async with running_app(paired_settings) as (_, client):
        # Created without `Prefer: wait`: recorded `new`, and reserved by the intake workers.
        created = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/orders",
                    headers=auth.service(),
                    json={
                        "user_id": 4000 + i,
                        "items": [{"sku": s, "count": rng.randint(1, 3)} for s in rng.sample(skus, 2)],
                    },
                )
                for i in range(60)
            )
        )
        assert {a.json()["status"] for a in created} == {"new"}

        async def settled() -> list[httpx.Response] | None:
            got = [await client.get(f"/api/v1/orders/{a.json()['order_id']}", headers=auth.service()) for a in created]
            return None if any(g.json()["status"] == "new" for g in got) else got

        answers = await eventually(settled, timeout=20)
        statuses = Counter(a.json()["status"] for a in answers)
        assert set(statuses) <= {"awaiting payment", "failed"}
        assert statuses["awaiting payment"] > 0
        assert statuses["failed"] > 0
        reserved = [a.json()["order_id"] for a in answers if a.json()["status"] == "awaiting payment"]
        to_pay, to_cancel = reserved[0::3], reserved[1::3]  # the rest expire
        moves = [client.post(f"/api/v1/orders/{o}/pay", headers=auth.service()) for o in to_pay]
        moves += [client.post(f"/api/v1/orders/{o}/cancel", headers=auth.service()) for o in to_cancel]
        assert {r.status_code for r in await asyncio.gather(*moves)} == {200}
    # The rest are left unpaid: their deadline passes now, and the expiry workers take over.
    await db.fetch(
        "UPDATE orders SET payment_deadline = now() WHERE status = 'awaiting payment' AND id = ANY($1::bigint[])",
        reserved,
    )

    order_ids = [a.json()["order_id"] for a in answers]

    async def all_done() -> bool:
        left = await db.value(
            "SELECT count(*) FROM orders WHERE id = ANY($1::bigint[]) AND status IN ('new', 'awaiting payment')",
            order_ids,
        )
        unpublished = await db.value("SELECT count(*) FROM outbox WHERE topic = $1", paired_settings.order_events_topic)
        return bool(left == 0 and unpublished == 0)

    assert await eventually(all_done, timeout=20)
    assert sum(w.reserved for w in two_of_each["intake"]) == len(order_ids)

    # No unit held twice or lost: per sku, total + written off is the start; nothing left reserved.
    for sku in skus:
        levels = await db.levels(sku)
        assert levels["reserved"] == 0
        assert levels["total"] + levels["written_off"] == 25

    rows = await db.fetch("SELECT id, status, cancel_reason FROM orders WHERE id = ANY($1::bigint[])", order_ids)
    final = {r["id"]: (r["status"], r["cancel_reason"]) for r in rows}
    assert {final[o] for o in to_pay} == {("paid", None)}
    assert {final[o] for o in to_cancel} == {("cancelled", "customer")}
    expired = set(reserved) - set(to_pay) - set(to_cancel)
    assert {final[o] for o in expired} == {("cancelled", "timeout")}

    # new, then awaiting payment or failed, then paid or cancelled for those reserved
    expected_events = sum(2 if status == "failed" else 3 for status, _ in final.values())
    events = await consume(
        shop_stack.urls.kafka_bootstrap_servers,
        paired_settings.order_events_topic,
        lambda evs: len(evs) >= expected_events,
    )
    assert len(events) == expected_events
    assert len({e["event_id"] for e in events}) == len(events), "an event was published twice"
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        assert event["_key"] == str(event["order_id"])
        by_order[event["order_id"]].append(event)
    assert set(by_order) == set(order_ids)
    for order_id, history in by_order.items():
        assert history[0]["status"] == "new" and history[0]["previous_status"] is None
        for before, after in itertools.pairwise(history):
            assert after["previous_status"] == before["status"]
            assert after["status"] in NEXT[before["status"]]
        assert history[-1]["status"] == final[order_id][0]


async def test_expiry_with_a_two_second_timeout_releases_stock_and_emits_the_event(
    shop_stack: Stack,
    loms_db: str,
    test_issuer: TestIssuer,
    topic: str,
    auth: Auth,
    db: Database,
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-expiry", payment_timeout=2)
    sku = new_sku()
    await db.stock(sku, 5)
    async with running_app(settings) as (_, client):
        r = await client.post(
            "/api/v1/orders",
            json={"user_id": 71, "items": [{"sku": sku, "count": 5}]},
            headers={**auth.customer(71), "Prefer": "wait=5"},
        )
        order = r.json()
        assert order["status"] == "awaiting payment"
        assert (await db.levels(sku))["available"] == 0

        async def expired() -> bool:
            got = await client.get(f"/api/v1/orders/{order['order_id']}", headers=auth.customer(71))
            return bool(got.json()["status"] == "cancelled")

        assert await eventually(expired, timeout=2 + 5 + 1)
        late = await client.post(f"/api/v1/orders/{order['order_id']}/pay", headers=auth.customer(71))
        assert late.status_code == 409
        assert await db.levels(sku) == {"total": 5, "reserved": 0, "written_off": 0, "available": 5}
        events = await consume(
            shop_stack.urls.kafka_bootstrap_servers,
            settings.order_events_topic,
            lambda evs: any(e["status"] == "cancelled" for e in evs),
        )
    cancelled = [e for e in events if e["status"] == "cancelled"]
    assert len(cancelled) == 1
    assert cancelled[0]["reason"] == "timeout"
    assert cancelled[0]["previous_status"] == "awaiting payment"
    assert cancelled[0]["order_id"] == order["order_id"]


async def test_paying_just_before_the_deadline_beats_the_expiry(
    shop_stack: Stack,
    loms_db: str,
    test_issuer: TestIssuer,
    topic: str,
    auth: Auth,
    db: Database,
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-race", payment_timeout=1, expiry_interval=0.05)
    sku = new_sku()
    await db.stock(sku, 100)
    async with running_app(settings) as (_, client):
        results: Counter[str] = Counter()
        for i in range(10):
            r = await client.post(
                "/api/v1/orders",
                json={"user_id": 72, "items": [{"sku": sku, "count": 1}]},
                headers={**auth.customer(72), "Prefer": "wait=5"},
            )
            await asyncio.sleep(0.9 + (i % 3) * 0.05)
            pay = await client.post(f"/api/v1/orders/{r.json()['order_id']}/pay", headers=auth.customer(72))
            results[str(pay.status_code)] += 1
            if pay.status_code == 409:
                await eventually(lambda oid=r.json()["order_id"]: status_is(client, auth, oid, "cancelled"))
    levels = await db.levels(sku)
    assert levels["reserved"] == 0
    assert levels["written_off"] == results["200"]
    assert levels["total"] + levels["written_off"] == 100


async def status_is(client: httpx.AsyncClient, auth: Auth, order_id: int, status: str, user: int = 72) -> bool:
    got = await client.get(f"/api/v1/orders/{order_id}", headers=auth.customer(user))
    return bool(got.json()["status"] == status)


async def test_intake_reserves_an_order_left_new_by_a_process_that_died(
    shop_stack: Stack,
    loms_db: str,
    test_issuer: TestIssuer,
    topic: str,
    auth: Auth,
    db: Database,
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-intake", intake_poll_interval=0.1)
    sku = new_sku()
    await db.stock(sku, 5)
    # As if the process died right after committing the order: `new`, nobody reserving it.
    order_id = await db.value("INSERT INTO orders (user_id, status) VALUES (73, 'new') RETURNING id")
    await db.fetch("INSERT INTO order_items (order_id, sku, count) VALUES ($1, $2, 2)", order_id, sku)
    async with running_app(settings) as (_, client):
        assert await eventually(lambda: status_is(client, auth, order_id, "awaiting payment", user=73))
    assert (await db.levels(sku))["reserved"] == 2


async def test_the_relay_vacuums_the_rows_of_published_events(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, db: Database
) -> None:
    """A deleted outbox row stays in the table's index until a vacuum, and every fetch walks over
    it: the relay reclaims them itself after `relay_vacuum_after` deletions."""
    settings = make_settings(
        shop_stack, loms_db, test_issuer, topic, relay_enabled=False, relay_vacuum_after=10, relay_batch_size=5
    )
    vacuumed = "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'"
    before = await db.value(vacuumed)
    await db.fetch(
        "INSERT INTO outbox (topic, key, payload) "
        "SELECT $1, '9000000' || n, jsonb_build_object('n', n) FROM generate_series(1, 25) n",
        topic,
    )
    engine = make_engine(settings.database_url, pool_size=2)
    relay = outbox_relay(engine, settings)
    relay.start()
    try:

        async def drained() -> bool:
            return not await db.value("SELECT count(*) FROM outbox WHERE topic = $1", topic)

        assert await eventually(drained, timeout=20)
    finally:
        await relay.stop()
        await engine.dispose()
    assert relay.published >= 25
    # 25 deletions in batches of 5, a vacuum after every 10 of them (other tests' events may ride along)
    assert relay.vacuums >= 2
    assert relay.deleted_since_vacuum < 10

    async def counted() -> bool:
        # At least one of them: PostgreSQL skips a VACUUM (SKIP_LOCKED) while autovacuum is on the table.
        return bool(await db.value(vacuumed) > before)

    assert await eventually(counted, timeout=5), "PostgreSQL saw no VACUUM of the outbox"
    # Nor does any vacuum, autovacuum's included, try to truncate the queue (an exclusive lock).
    options = await db.value("SELECT reloptions FROM pg_class WHERE relname = 'outbox'")
    assert {"vacuum_truncate=false"} <= set(options)
    toast = await db.value(
        "SELECT t.reloptions FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.relname = 'outbox'"
    )
    assert {"vacuum_truncate=false"} <= set(toast)


async def test_the_relay_batch_commits_without_waiting_for_the_disk_and_only_it(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str
) -> None:
    """The batch's transaction only deletes acknowledged events (a lost deletion means a repeat,
    which at-least-once allows): `synchronous_commit` is off in it, and in it alone."""
    settings = make_settings(shop_stack, loms_db, test_issuer, topic)
    engine = make_engine(settings.database_url, pool_size=1)
    show = text("SHOW synchronous_commit")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET synchronous_commit = on"))  # the tests' server runs with it off
            await conn.commit()
            async with conn.begin():
                await OUTBOX.lock_and_fetch(conn, 1)  # sets it even when another relay holds the lock
                assert (await conn.execute(show)).scalar() == "off"
            assert (await conn.execute(show)).scalar() == "on"
    finally:
        await engine.dispose()

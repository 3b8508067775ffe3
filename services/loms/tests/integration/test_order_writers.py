"""The create path under load: a bounded number of orders written at once, and a relay woken by
the requests of its own process rather than by NOTIFY."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson

from loms.pg import Sql
from loms.repositories.orders import record_sql
from loms.repositories.placement import PLACE_SQL
from loms.repositories.reservations import RESERVE_SQL
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, consume, make_settings, new_sku, running_app


async def test_with_one_order_writer_thirty_concurrent_creates_all_reserve(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, auth: Auth, db: Database
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-one-writer", order_writers=1)
    sku = new_sku()
    await db.stock(sku, 100)
    async with running_app(settings) as (_, client):
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/orders",
                    json={"user_id": 3000 + i, "items": [{"sku": sku, "count": 2}]},
                    headers={**auth.service(), "Prefer": "wait=5", "Idempotency-Key": f"one-writer-{sku}-{i}"},
                )
                for i in range(30)
            )
        )
    assert Counter((a.status_code, a.json()["status"]) for a in answers) == {(201, "awaiting payment"): 30}
    assert (await db.levels(sku))["reserved"] == 60


async def test_an_order_reserved_by_its_request_is_published_long_before_the_relay_sweep(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, auth: Auth, db: Database
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-woken", relay_sweep_interval=120)
    sku = new_sku()
    await db.stock(sku, 5)
    async with running_app(settings) as (_, client):

        async def create_and_see_published(user_id: int) -> list[str]:
            r = await client.post(
                "/api/v1/orders",
                json={"user_id": user_id, "items": [{"sku": sku, "count": 1}]},
                headers={**auth.service(), "Prefer": "wait=5"},
            )
            order_id = r.json()["order_id"]
            events = await consume(
                shop_stack.urls.kafka_bootstrap_servers,
                settings.order_events_topic,
                lambda evs: any(e["order_id"] == order_id and e["status"] == "awaiting payment" for e in evs),
                timeout=10,
            )
            return [e["status"] for e in events if e["order_id"] == order_id]

        # The first may ride along with the relay's start-up round; the second needs a wake-up.
        assert await create_and_see_published(3100) == ["new", "awaiting payment"]
        assert await create_and_see_published(3101) == ["new", "awaiting payment"]


def _scans(plan: dict[str, Any]) -> set[tuple[str, str]]:
    """(node type, relation) of every node that reads a table in an EXPLAIN (FORMAT JSON) plan."""
    found = {(plan["Node Type"], plan["Relation Name"])} if "Relation Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= _scans(child)
    return found - {("ModifyTable", plan.get("Relation Name", ""))}


async def test_writers_plan_the_order_statements_once_and_reach_every_row_by_its_key(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, db: Database
) -> None:
    # Tables of a shop that has been running: many skus in three warehouses, many orders, analyzed.
    warehouses = await db.warehouses()
    await db.fetch(
        "INSERT INTO stocks (sku, warehouse_id, total) SELECT 4000000000 + s, w, 100 "
        "FROM generate_series(1, 2000) s, unnest($1::bigint[]) w",
        warehouses,
    )
    await db.fetch(
        "INSERT INTO orders (user_id, status, total_price, created_at, updated_at) "
        "SELECT 1, 'paid', 0, now(), now() FROM generate_series(1, 20000)"
    )
    # Orders of many users awaiting payment, and every order's lines (placing counts what the
    # order's user holds unpaid).
    await db.fetch(
        "INSERT INTO orders (user_id, status, total_price, payment_deadline, created_at, updated_at) "
        "SELECT 1 + n, 'awaiting payment', 0, now() + interval '1 day', now(), now() FROM generate_series(1, 5000) n"
    )
    await db.fetch(
        "INSERT INTO order_items (order_id, sku, count, price) "
        "SELECT o.id, 4000000001 + (o.id + k) % 2000, 1, 0 FROM orders o, generate_series(0, 1) k"
    )
    await db.fetch(
        "INSERT INTO idempotency_keys (scope, key, request_hash, state) "
        "SELECT 'service:plans POST /api/v1/orders', 'plans-' || n, '', 'done' FROM generate_series(1, 20000) n"
    )
    await db.fetch("ANALYZE")
    statements = {
        "reserve": (RESERVE_SQL.replace(" /*notify*/", ""), {"orders", "stocks"}),
        "create": (record_sql(with_idempotency=True, notify=False), set()),
        "place": (PLACE_SQL.replace(" /*notify*/", ""), {"stocks", "idempotency_keys", "orders", "order_items"}),
    }
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-plans")
    async with running_app(settings) as (app, _), app.state.db.writers.acquire() as conn:
        # Not left to PostgreSQL's choice between generic and custom plans, which after an
        # ANALYZE can settle on planning the reservation afresh for every order.
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        for name, (statement, reached_by_index) in statements.items():
            sql = Sql(statement)
            # Through the simple protocol, so the parameters stay parameters: EXPLAIN of a bound
            # statement would plan with the values. Under the connection's setting, EXPLAIN EXECUTE
            # shows the generic plan (a custom plan for these NULLs would find nothing to read).
            await conn.execute(f"PREPARE probe_{name} AS {sql.text}")
            try:
                nulls = ", ".join(["NULL"] * len(sql.names))
                explained = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE probe_{name}({nulls})")
            finally:
                await conn.execute(f"DEALLOCATE probe_{name}")
            scans = _scans(orjson.loads(explained)[0]["Plan"])
            assert {node for node, _ in scans} <= {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}, (name, scans)
            assert {relation for _, relation in scans} == reached_by_index, (name, scans)

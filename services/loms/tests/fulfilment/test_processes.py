"""Fulfilment across real LOMS processes (uvicorn, as `make run` runs them): two of them assigning
at once stay balanced, and one killed in the middle of a pass leaves nothing half-made."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg

from loms.config import Settings
from loms.repositories.tasks import category_lock_key
from shopcommon.testing.plugin import Stack

from ..conftest import Database, eventually
from .conftest import Catalogue, Checkout, Orders, process_env, start_loms, task_events


async def settled(db: Database, order_ids: list[int], per_order: int = 1) -> bool:
    """Every order has its tasks, nothing waits in the queue and nothing is unassigned."""
    made = await db.value("SELECT count(*) FROM tasks WHERE order_id = ANY($1::bigint[])", order_ids)
    queued = await db.value("SELECT count(*) FROM task_queue")
    waiting = await db.value("SELECT count(*) FROM tasks WHERE status = 'unassigned'")
    return bool(made == len(order_ids) * per_order and queued == 0 and waiting == 0)


async def test_two_loms_processes_assigning_a_thousand_orders_at_once_keep_three_workers_within_one_task(
    shop_stack: Stack, settings: Settings, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    category, skus = await catalogue.category(db)
    workers = [await checkout.make_worker(category) for _ in range(3)]
    env = process_env(settings, shop_stack, fulfilment_batch_size=20, fulfilment_interval=0.05)
    first, second = await asyncio.gather(start_loms(env, shop_stack), start_loms(env, shop_stack))
    try:
        order_ids: list[int] = []
        for round_ in range(10):  # paid in waves, while both processes are at work
            order_ids += await orders.paid([[(skus[(round_ + i) % len(skus)], 1)] for i in range(100)])
        assert await eventually(lambda: settled(db, order_ids), timeout=120), (first.log(), second.log())
    finally:
        await asyncio.gather(asyncio.to_thread(first.stop), asyncio.to_thread(second.stop))

    rows = await db.fetch(
        "SELECT order_id, worker_id, status, assigned_at FROM tasks WHERE order_id = ANY($1::bigint[]) "
        "ORDER BY assigned_at, id",
        order_ids,
    )
    assert sorted(r["order_id"] for r in rows) == sorted(order_ids)  # one task each: none lost, none doubled
    # Replayed in the order they were made (assignments of a category take turns, so their times
    # are in that order): each went to a worker with the fewest open tasks at that moment, a tie
    # to the one whose last assignment was oldest (never assigned first, then the lowest id).
    open_tasks = dict.fromkeys(workers, 0)
    last: dict[int, Any] = dict.fromkeys(workers)
    wrong = []
    for row in rows:
        expected = min(workers, key=lambda w: (open_tasks[w], last[w] is not None, last[w] or row["assigned_at"], w))
        if row["worker_id"] != expected:
            wrong.append((row["order_id"], row["worker_id"], expected, dict(open_tasks)))
        open_tasks[row["worker_id"]] += 1
        last[row["worker_id"]] = row["assigned_at"]
    assert not wrong, f"{len(wrong)} assignments went to a busier worker, e.g. {wrong[:3]}"
    load = Counter(r["worker_id"] for r in rows if r["status"] in ("assigned", "in_progress"))
    assert set(load) == set(workers)
    assert max(load.values()) - min(load.values()) <= 1, load
    events = await task_events(db, category=category)
    assert len(events) == 1000 and len({e["task_id"] for e in events}) == 1000
    assert all((e["status"], e["previous_status"]) == ("assigned", None) for e in events)


async def test_a_loms_process_killed_in_the_middle_of_a_pass_leaves_no_paid_order_without_its_tasks(
    shop_stack: Stack, settings: Settings, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    (one, one_skus), (two, two_skus) = await catalogue.category(db), await catalogue.category(db)
    worker = await checkout.make_worker(one, two)
    env = process_env(settings, shop_stack)
    blocker = await asyncpg.connect(db.url)
    victim = await start_loms(env, shop_stack)
    try:
        # The pass will have written the tasks of its batch when it asks for the category's lock:
        # held here, so the process is caught in the middle of its transaction.
        await blocker.execute("SELECT pg_advisory_lock($1)", category_lock_key(one))
        order_ids = await orders.paid([[(one_skus[0], 1), (two_skus[0], 2)] for _ in range(5)])

        async def caught() -> bool:
            waiting = await blocker.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return bool(waiting)

        assert await eventually(caught, timeout=30), victim.log()
        await asyncio.to_thread(victim.kill)
        # Nothing of the pass is visible, and the orders are still queued.
        assert await db.value("SELECT count(*) FROM tasks WHERE order_id = ANY($1::bigint[])", order_ids) == 0
        assert await db.value("SELECT count(*) FROM task_queue WHERE order_id = ANY($1::bigint[])", order_ids) == 5
    finally:
        await blocker.execute("SELECT pg_advisory_unlock_all()")
        await blocker.close()
        victim.stop()

    async def rolled_back() -> bool:
        # The killed process's backend finds its client gone once the lock is granted.
        return not await db.value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")

    assert await eventually(rolled_back, timeout=30)
    assert await db.value("SELECT count(*) FROM tasks WHERE order_id = ANY($1::bigint[])", order_ids) == 0

    successor = await start_loms(env, shop_stack)
    try:
        assert await eventually(lambda: settled(db, order_ids, per_order=2), timeout=60), successor.log()
    finally:
        await asyncio.to_thread(successor.stop)
    rows = await db.fetch(
        "SELECT order_id, category, worker_id, status FROM tasks WHERE order_id = ANY($1::bigint[])", order_ids
    )
    assert sorted((r["order_id"], r["category"]) for r in rows) == sorted((o, c) for o in order_ids for c in (one, two))
    assert {(r["worker_id"], r["status"]) for r in rows} == {(worker, "assigned")}
    events = [e for o in order_ids for e in await task_events(db, order_id=o)]
    assert len(events) == 10 and len({e["task_id"] for e in events}) == 10

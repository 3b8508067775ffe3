"""LOMS fulfilment benchmark: tasks made and assigned per second by several LOMS processes at once.

```
.venv/bin/python bench/loms/assignments.py                    # 20,000 paid orders, 2 LOMS processes
.venv/bin/python bench/loms/assignments.py --orders 50000 --processes 1
```

1. Starts the embedded stack (PostgreSQL with fsync on unless `--no-fsync`), migrates `loms` and
   `checkout`, loads their demo data (checkout's: one worker per product category, a second one
   in guitars and basses) and stocks skus 1..500.
2. Gives every bench sku a demo category in LOMS's `sku_categories` cache, so no pass waits for
   product-stub (what is measured is making and assigning tasks, not catalogue lookups).
3. Writes `--orders` paid orders (two lines each, of two categories: two tasks per order) the way
   payment leaves them (`awaiting payment` -> `paid`, so the trigger queues each for its tasks),
   then starts `--processes` LOMS processes as `make run` starts them, pointed at a real checkout,
   and times how long until every order has its tasks and none is unassigned.
4. Prints tasks per second (= assignments per second), the per-category balance (the most and
   fewest open tasks of a category's workers) and whether every order has exactly its tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shopcommon.demo_catalogue import CATEGORIES
from shopcommon.devstack.databases import create_database
from shopcommon.devstack.launcher import uvicorn_argv
from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.servers import free_port
from shopcommon.devstack.stack import EmbeddedStack, StackPorts, StackUrls
from shopcommon.migrations import upgrade
from shopcommon.services import service_spec
from shopcommon.testing.tokens import TestIssuer

ROOT = Path(__file__).resolve().parents[2]
BENCH_SKUS = 500


async def prepare(urls: StackUrls) -> tuple[str, str]:
    dbs = {}
    for name in ("loms", "checkout"):
        spec = service_spec(name)
        url = await create_database(urls.database_url, name, replace=True)
        assert spec.migrations is not None
        await asyncio.to_thread(upgrade, spec.migrations, url)
        loader = spec.load_demo_data()
        if loader is not None:
            await loader(url, {"APP_ENV": "dev"})
        dbs[name] = url
    categories = list(CATEGORIES)
    conn = await asyncpg.connect(dbs["loms"])
    try:
        await conn.execute(
            "INSERT INTO stocks (sku, warehouse_id, total) SELECT s, w.id, 10000000 "
            f"FROM generate_series(1, {BENCH_SKUS}) s, (SELECT id FROM warehouses) w ON CONFLICT DO NOTHING"
        )
        await conn.executemany(
            "INSERT INTO sku_categories (sku, category) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET category = $2",
            [(sku, categories[sku % len(categories)]) for sku in range(1, BENCH_SKUS + 1)],
        )
    finally:
        await conn.close()
    return dbs["loms"], dbs["checkout"]


async def write_paid_orders(db_url: str, count: int) -> None:
    """`count` paid orders of two lines in two neighbouring skus (two categories), in chunks."""
    conn = await asyncpg.connect(db_url)
    try:
        for start in range(0, count, 1000):
            n = min(1000, count - start)
            async with conn.transaction():
                ids = await conn.fetch(
                    "INSERT INTO orders (user_id, status) SELECT 1 + g % 100000, 'awaiting payment' "
                    "FROM generate_series(1, $1) g RETURNING id",
                    n,
                )
                await conn.executemany(
                    "INSERT INTO order_items (order_id, sku, count) VALUES ($1, $2, 1), ($1, $3, 1)",
                    [(r["id"], 1 + r["id"] % (BENCH_SKUS - 1), 2 + r["id"] % (BENCH_SKUS - 1)) for r in ids],
                )
        # Paid only once every line is written, as the payment would find them.
        await conn.execute("UPDATE orders SET status = 'paid' WHERE status = 'awaiting payment'")
    finally:
        await conn.close()


def start(name: str, urls: StackUrls, log_dir: Path, env: dict[str, str]) -> tuple[ManagedProcess, str]:
    spec = service_spec(name)
    port = free_port()
    proc = ManagedProcess(
        f"{name}-bench-{port}",
        uvicorn_argv(spec, "127.0.0.1", port, 1),
        log_dir=log_dir,
        env={
            **os.environ,
            **urls.as_env(),
            "APP_ENV": "dev",
            "SHOP_DATA_DIR": str(log_dir.parent),
            "LOG_LEVEL": "WARNING",
            **env,
        },
        cwd=ROOT,
    )
    proc.start()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 60, f"{name} /readyz", proc)
    return proc, base


async def progress(db_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM task_queue) AS queued, "
            "(SELECT count(*) FROM tasks WHERE status = 'unassigned') AS unassigned"
        )
        return dict(row) if row else {}
    finally:
        await conn.close()


async def balance(db_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(db_url)
    try:
        per_category: dict[str, list[int]] = defaultdict(list)
        for r in await conn.fetch(
            "SELECT category, worker_id, count(*) AS open FROM tasks WHERE status IN ('assigned', 'in_progress') "
            "GROUP BY category, worker_id"
        ):
            per_category[r["category"]].append(int(r["open"]))
        exact = await conn.fetchval(
            "SELECT count(*) = 0 FROM orders o WHERE o.status = 'paid' AND "
            "(SELECT count(*) FROM tasks t WHERE t.order_id = o.id) <> "
            "(SELECT count(DISTINCT c.category) FROM order_items i JOIN sku_categories c ON c.sku = i.sku WHERE i.order_id = o.id)"
        )
        return {"per_category": {c: (max(v), min(v)) for c, v in sorted(per_category.items())}, "exact": exact}
    finally:
        await conn.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50, help="LOMS_FULFILMENT_BATCH_SIZE")
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    data_dir = ROOT / ".data" / f"bench-assign-{os.getpid()}"
    stack = EmbeddedStack(data_dir, StackPorts.free(), durable=not args.no_fsync, env={})
    procs: list[ManagedProcess] = []
    try:
        urls = stack.start()
        loms_db, checkout_db = asyncio.run(prepare(urls))
        issuer = TestIssuer(data_dir / "jwt")
        checkout, checkout_url = start(
            "checkout", urls, stack.log_dir, {service_spec("checkout").database_env: checkout_db}
        )
        procs.append(checkout)
        asyncio.run(write_paid_orders(loms_db, args.orders))
        expected = asyncio.run(progress(loms_db))["queued"]
        loms_env = {
            service_spec("loms").database_env: loms_db,
            "JWT_JWKS_FILE": str(issuer.jwks_path),
            "SHOP_CHECKOUT_URL": checkout_url,
            "SHOP_PRODUCT_STUB_URL": "http://127.0.0.1:9",  # never asked: every sku's category is cached
            "LOMS_FULFILMENT_BATCH_SIZE": str(args.batch_size),
            "LOMS_FULFILMENT_INTERVAL": "0.05",
        }
        began = time.monotonic()
        for _ in range(args.processes):
            procs.append(start("loms", urls, stack.log_dir, loms_env)[0])
        while True:
            state = asyncio.run(progress(loms_db))
            if state["queued"] == 0 and state["unassigned"] == 0:
                break
            if time.monotonic() - began > args.timeout:
                print(f"timed out: {state}", file=sys.stderr)
                return 1
            time.sleep(0.1)
        elapsed = time.monotonic() - began
        result = asyncio.run(balance(loms_db))
        print(
            f"{expected} orders, {state['tasks']} tasks in {elapsed:.1f} s by {args.processes} LOMS processes "
            f"(startup included): {state['tasks'] / elapsed:.0f} assignments/s"
        )
        print(f"open tasks per worker (most, fewest) by category: {result['per_category']}")
        print(f"every paid order has exactly one task per category: {result['exact']}")
        return 0
    finally:
        for proc in reversed(procs):
            proc.stop()
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Bookings search throughput: `GET /api/v1/tables` with a time window over 1,000 tables and
100,000 bookings, beside a bare uvicorn ASGI hello-world measured in the same run (both with 2
workers, uvloop + httptools; wrk -t2 -c32). Each request asks about another evening.

Run: `.venv/bin/python bench/bookings/run.py [seconds]`. It prints the table for README.md and the
plan PostgreSQL chose for the search."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Bench, wrk

from bookings.repositories.tables import SEARCH_SQL
from shopcommon.db import plain_url
from shopcommon.devstack.databases import create_database
from shopcommon.migrations import upgrade
from shopcommon.services import service_spec

TABLES = 1_000
BOOKINGS_PER_TABLE = 100
DAYS = 120
KINDS = ["regular"] * 6 + ["cabin"] * 3 + ["room"]
#: The first evening of the load; every booking lies within DAYS days of it.
DAY0 = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def bookings_of(table_id: int, rng: random.Random) -> list[tuple[object, ...]]:
    """BOOKINGS_PER_TABLE two-hour bookings on distinct days, so confirmed ones never overlap."""
    rows: list[tuple[object, ...]] = []
    for day in sorted(rng.sample(range(DAYS), BOOKINGS_PER_TABLE)):
        start = DAY0 + timedelta(days=day, hours=rng.choice([12, 14, 17, 19, 21]))
        status = rng.choices(["confirmed", "pending", "rejected", "cancelled"], [6, 3, 1, 1])[0]
        rows.append((table_id, start, start + timedelta(hours=2), f"Guest {table_id}-{day}", "guest@example.com",
                     None, 1000, status, "staff" if status == "cancelled" else None))  # fmt: skip
    return rows


async def load(url: str) -> None:
    rng = random.Random(2)
    conn = await asyncpg.connect(plain_url(url))
    try:
        tables = [(f"T{i:04d}", KINDS[i % len(KINDS)], rng.randint(2, 16)) for i in range(1, TABLES + 1)]
        await conn.copy_records_to_table("tables", records=tables, columns=["name", "kind", "seats"])
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM tables ORDER BY id")]
        prices = [(t, DAY0 - timedelta(days=d), rng.randint(5, 60) * 100) for t in ids for d in (60, 1)]
        prices += [(t, DAY0 + timedelta(days=30), rng.randint(5, 60) * 100) for t in ids]
        await conn.copy_records_to_table(
            "table_prices", records=prices, columns=["table_id", "effective_from", "price"]
        )
        columns = ["table_id", "starts_at", "ends_at", "name", "email", "phone", "price", "status", "cancelled_by"]
        rows = [row for t in ids for row in bookings_of(t, rng)]
        await conn.copy_records_to_table("bookings", records=rows, columns=columns)
        await conn.execute("VACUUM ANALYZE")
        print(f"loaded {len(ids)} tables, {len(rows)} bookings")
    finally:
        await conn.close()


async def explain(url: str) -> str:
    """The filtered search's plan with its parameters, and the generic plan a prepared statement runs
    after a few calls (asyncpg prepares every statement): `EXPLAIN EXECUTE` of a prepared statement
    under `force_generic_plan` (an `EXPLAIN` with bound parameters would plan for their values)."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        window = (DAY0 + timedelta(days=40, hours=19), DAY0 + timedelta(days=40, hours=21))
        args = ("cabin", 6, 1000, 4000, False, *window)
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {SEARCH_SQL}", *args)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE search AS {SEARCH_SQL}")
        literals = ", ".join(["'cabin'", "6", "1000", "4000", "false", *(f"'{w.isoformat()}'" for w in window)])
        generic = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE search({literals})")
        return "\n".join(r[0] for r in plan) + "\n\nGeneric plan:\n\n" + "\n".join(r[0] for r in generic)
    finally:
        await conn.close()


def window_lua(query: str) -> str:
    """A different evening (and hour) of the loaded period for each request."""
    return f"""
math.randomseed(7)
local day0 = {int(DAY0.timestamp())}
request = function()
  local s = day0 + math.random(0, {DAYS - 1}) * 86400 + math.random(11, 21) * 3600
  local fmt = "!%Y-%m-%dT%H:%M:%S%%2B00:00"
  return wrk.format("GET", "/api/v1/tables?{query}starts_at=" .. os.date(fmt, s) .. "&ends_at=" .. os.date(fmt, s + 7200))
end
"""


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    spec = service_spec("bookings")
    with Bench("bookings") as bench:
        assert bench.urls is not None and spec.migrations is not None
        db = asyncio.run(create_database(bench.urls.database_url, "bookings"))
        upgrade(spec.migrations, db)
        asyncio.run(load(db))
        env = {
            **os.environ,
            **bench.urls.as_env(),
            "APP_ENV": "dev",
            "BOOKINGS_DATABASE_URL": db,
            "LOG_LEVEL": "WARNING",
        }
        service = bench.uvicorn("bookings", spec.app_factory, env)
        hello = bench.hello_world()
        plan = asyncio.run(explain(db))
        results = [
            wrk("ASGI hello-world (baseline)", hello + "/", seconds=seconds),
            wrk(
                "search: cabin, 6+ seats, 10-40.00, a 2 h window",
                service,
                seconds=seconds,
                lua=window_lua("kind=cabin&seats=6&min_price=1000&max_price=4000&"),
            ),
            wrk("search: every table, a 2 h window", service, seconds=seconds, lua=window_lua("")),
        ]
    print(f"\nwrk -t2 -c32 -d{seconds}s --latency; 2 uvicorn workers each; ratio = req/s over the baseline\n")
    print("| what | req/s | p50 ms | p99 ms | ratio to hello-world | non-2xx |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(r.row(results[0]))
    print("\nThe filtered search's plan:\n\n" + plan)


if __name__ == "__main__":
    main()

"""Demo data (dev mode): three warehouses holding stock for the shared demo catalogue.

Deterministic like the catalogue: about one sku in ten has no stock at all, about one in seven is
scarce (1 to 50 units in all), the rest have hundreds spread over the warehouses.
"""

from __future__ import annotations

import random
from typing import Any

import asyncpg

from shopcommon.demo_catalogue import demo_products
from shopcommon.demo_data import insert_once

WAREHOUSES = ("Central warehouse", "North warehouse", "South warehouse")


def demo_skus() -> list[int]:
    return [p.sku for p in demo_products()]


def demo_stock(skus: list[int], warehouse_ids: list[int]) -> list[tuple[int, int, int]]:
    """(sku, warehouse_id, total) rows."""
    rng = random.Random(3)  # the seed's number; any constant keeps the data the same every run
    rows: list[tuple[int, int, int]] = []
    for sku in skus:
        kind = rng.random()
        if kind < 0.10:
            continue  # none
        if kind < 0.25:
            total = rng.randint(1, 50)
            homes = rng.sample(warehouse_ids, rng.randint(1, min(2, total)))
        else:
            total = rng.randint(150, 900)
            homes = rng.sample(warehouse_ids, rng.randint(2, len(warehouse_ids)))
        cuts = sorted(rng.sample(range(1, total), len(homes) - 1)) if len(homes) > 1 else []
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        rows += [(sku, wh, part) for wh, part in zip(homes, parts, strict=True)]
    return rows


async def load_demo_data(database_url: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Insert warehouses and stock once; a second run leaves existing data alone."""
    return await insert_once(database_url, "warehouses", _insert)


async def _insert(conn: asyncpg.Connection) -> dict[str, Any]:
    ids = [await conn.fetchval("INSERT INTO warehouses (name) VALUES ($1) RETURNING id", name) for name in WAREHOUSES]
    rows = demo_stock(demo_skus(), ids)
    await conn.executemany("INSERT INTO stocks (sku, warehouse_id, total) VALUES ($1, $2, $3)", rows)
    return {"warehouses": len(ids), "stock_rows": len(rows)}

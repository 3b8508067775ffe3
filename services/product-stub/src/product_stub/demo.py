"""Dev-mode demo data of product-stub: the shared demo catalogue (`shopcommon.demo_catalogue`) in its tables."""

from __future__ import annotations

from typing import Any

import asyncpg

from shopcommon.demo_catalogue import CATEGORIES, MANUFACTURERS, DemoProduct, demo_products
from shopcommon.demo_data import insert_once

__all__ = ["CATEGORIES", "MANUFACTURERS", "DemoProduct", "demo_products", "load_demo_data"]


async def load_demo_data(database_url: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Insert the catalogue once; existing rows are left alone, so a second run keeps edits."""
    return await insert_once(database_url, "products", _insert)


async def _insert(conn: asyncpg.Connection) -> dict[str, Any]:
    await conn.executemany(
        "INSERT INTO categories (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        list(CATEGORIES.items()),
    )
    await conn.executemany(
        "INSERT INTO manufacturers (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        [(name, desc) for name, (desc, _) in MANUFACTURERS.items()],
    )
    cat_ids = dict(await conn.fetch("SELECT name, id FROM categories"))
    maker_ids = dict(await conn.fetch("SELECT name, id FROM manufacturers"))
    products = demo_products()
    await conn.executemany(
        "INSERT INTO products (sku, name, price, description, category_id, manufacturer_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(p.sku, p.name, p.price, p.description, cat_ids[p.category], maker_ids[p.manufacturer]) for p in products],
    )
    return {"products": len(products)}

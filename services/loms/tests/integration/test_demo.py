"""Demo data: three warehouses with stock for the product-stub catalogue."""

from __future__ import annotations

import pytest

from loms.demo import load_demo_data
from product_stub.demo import demo_products
from shopcommon.testing.plugin import Stack

from ..conftest import Database


@pytest.fixture(scope="module")
async def demo_db(shop_stack: Stack) -> Database:
    url = shop_stack.fresh_database("loms", "demo")
    assert (await load_demo_data(url))["loaded"]
    return Database(url)


async def test_three_warehouses_hold_stock_for_the_catalogue(demo_db: Database) -> None:
    assert await demo_db.value("SELECT count(*) FROM warehouses") == 3
    catalogue = {p.sku for p in demo_products()}
    stocked = {r["sku"] for r in await demo_db.fetch("SELECT DISTINCT sku FROM stocks")}
    assert stocked <= catalogue
    assert await demo_db.value("SELECT count(*) FROM stocks WHERE reserved <> 0") == 0


async def test_some_skus_are_scarce_most_have_hundreds_some_none(demo_db: Database) -> None:
    totals = {
        r["sku"]: r["total"] for r in await demo_db.fetch("SELECT sku, sum(total) AS total FROM stocks GROUP BY sku")
    }
    catalogue = [p.sku for p in demo_products()]
    levels = [totals.get(sku, 0) for sku in catalogue]
    none = sum(1 for n in levels if n == 0)
    scarce = sum(1 for n in levels if 1 <= n <= 50)
    hundreds = sum(1 for n in levels if n >= 100)
    assert none >= 5
    assert scarce >= 10
    assert hundreds > len(catalogue) / 2


async def test_loading_twice_changes_nothing(shop_stack: Stack, demo_db: Database) -> None:
    before = await demo_db.counts()
    assert (await load_demo_data(demo_db.url))["loaded"] is False
    assert await demo_db.counts() == before

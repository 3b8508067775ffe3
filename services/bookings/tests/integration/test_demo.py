"""Dev mode's demo tables: at least 12 of all three kinds, 2 to 16 seats, each with a price history."""

from __future__ import annotations

from bookings.demo import load_demo_data
from shopcommon.testing.plugin import Stack

from ..conftest import Database


async def test_the_demo_has_every_kind_with_price_histories_and_loads_once(shop_stack: Stack) -> None:
    url = shop_stack.fresh_database("bookings", "demo")
    db = Database(url)
    assert (await load_demo_data(url))["loaded"] is True
    tables = await db.fetch(
        "SELECT t.kind, t.seats, t.bookable, count(p.*) AS prices, "
        "count(*) FILTER (WHERE p.effective_from <= now()) AS in_force, "
        "count(*) FILTER (WHERE p.effective_from > now()) AS announced "
        "FROM tables t JOIN table_prices p ON p.table_id = t.id GROUP BY t.id"
    )
    assert len(tables) >= 12
    assert {t["kind"] for t in tables} == {"regular", "cabin", "room"}
    assert min(t["seats"] for t in tables) == 2 and max(t["seats"] for t in tables) == 16
    assert all(t["bookable"] and t["prices"] >= 2 and t["in_force"] >= 1 for t in tables)
    assert any(t["announced"] for t in tables)
    again = await load_demo_data(url)
    assert again["loaded"] is False
    assert await db.value("SELECT count(*) FROM tables") == len(tables)

"""No oversell under concurrency: the database's locks decide, every unit is accounted for."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from ..conftest import Auth, Database, new_sku


async def test_200_concurrent_orders_for_10_units_reserve_exactly_10(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 4, 3, 3)

    async def buy(user_id: int) -> httpx.Response:
        return await client.post(
            "/api/v1/orders",
            json={"user_id": user_id, "items": [{"sku": sku, "count": 1}]},
            headers={**auth.service(), "Prefer": "wait=30"},
        )

    answers = await asyncio.gather(*(buy(1000 + i) for i in range(200)))
    assert {a.status_code for a in answers} == {201}
    statuses = Counter(a.json()["status"] for a in answers)
    assert statuses == {"awaiting payment": 10, "failed": 190}
    in_db = Counter(
        r["status"]
        for r in await db.fetch(
            "SELECT o.status FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.sku = $1", sku
        )
    )
    assert in_db == statuses

    winners = [a.json()["order_id"] for a in answers if a.json()["status"] == "awaiting payment"]
    for order_id in winners[:4]:
        assert (await client.post(f"/api/v1/orders/{order_id}/pay", headers=auth.service())).status_code == 200
    for order_id in winners[4:7]:
        assert (await client.post(f"/api/v1/orders/{order_id}/cancel", headers=auth.service())).status_code == 200
    levels = await db.levels(sku)
    assert levels["reserved"] + levels["written_off"] + levels["available"] == 10
    assert (levels["reserved"], levels["written_off"], levels["available"]) == (3, 4, 3)


async def test_pay_racing_cancel_has_exactly_one_winner_each_time(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 50, 50)
    outcomes: Counter[str] = Counter()
    for round_ in range(50):
        r = await client.post(
            "/api/v1/orders",
            json={"user_id": 2000 + round_, "items": [{"sku": sku, "count": 2}]},
            headers={**auth.service(), "Prefer": "wait=5"},
        )
        order_id = r.json()["order_id"]
        pay, cancel = await asyncio.gather(
            client.post(f"/api/v1/orders/{order_id}/pay", headers=auth.service()),
            client.post(f"/api/v1/orders/{order_id}/cancel", headers=auth.service()),
        )
        assert sorted([pay.status_code, cancel.status_code]) == [200, 409], (pay.text, cancel.text)
        winner = "paid" if pay.status_code == 200 else "cancelled"
        outcomes[winner] += 1
        final = await client.get(f"/api/v1/orders/{order_id}", headers=auth.service())
        assert final.json()["status"] == winner
    levels = await db.levels(sku)
    assert levels["reserved"] == 0
    assert levels["written_off"] == 2 * outcomes["paid"]
    assert levels["available"] == 100 - 2 * outcomes["paid"]
    held = await db.value("SELECT count(*) FROM reservations WHERE sku = $1 AND state = 'held'", sku)
    assert held == 0


async def test_orders_sharing_skus_in_opposite_orders_do_not_deadlock(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    a, b = new_sku(), new_sku()
    await db.stock(a, 30, 30)
    await db.stock(b, 30, 30)

    async def buy(i: int) -> httpx.Response:
        first, second = (a, b) if i % 2 else (b, a)
        items = [{"sku": first, "count": 1}, {"sku": second, "count": 1}]
        return await client.post(
            "/api/v1/orders",
            json={"user_id": 3000 + i, "items": items},
            headers={**auth.service(), "Prefer": "wait=30"},
        )

    answers = await asyncio.gather(*(buy(i) for i in range(60)))
    assert Counter(r.json()["status"] for r in answers) == {"awaiting payment": 60}
    cancels = await asyncio.gather(
        *(client.post(f"/api/v1/orders/{r.json()['order_id']}/cancel", headers=auth.service()) for r in answers)
    )
    assert {c.status_code for c in cancels} == {200}
    assert (await db.levels(a))["reserved"] == (await db.levels(b))["reserved"] == 0

"""The life of an order over REST: create, reserve, pay, cancel, read."""

from __future__ import annotations

from typing import Any

import httpx

from ..conftest import Auth, Database, eventually, new_sku

WAIT = {"Prefer": "wait=5"}


async def create(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    user_id: int,
    *lines: tuple[int, int],
    wait: bool = True,
    prices: dict[int, int] | None = None,
) -> httpx.Response:
    items: list[dict[str, Any]] = [{"sku": s, "count": c} for s, c in lines]
    for item in items:
        if prices and item["sku"] in prices:
            item["price"] = prices[item["sku"]]
    return await client.post(
        "/api/v1/orders", json={"user_id": user_id, "items": items}, headers={**headers, **(WAIT if wait else {})}
    )


async def test_create_without_prefer_answers_new_at_once_and_reserves_right_after(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 5)
    r = await create(client, auth.customer(11), 11, (sku, 2), wait=False)
    assert r.status_code == 201
    assert r.json()["status"] == "new"
    assert "Preference-Applied" not in r.headers
    order_id = r.json()["order_id"]

    async def reserved() -> bool:
        got = await client.get(f"/api/v1/orders/{order_id}", headers=auth.customer(11))
        return bool(got.json()["status"] == "awaiting payment")

    assert await eventually(reserved)
    assert (await db.levels(sku))["reserved"] == 2


async def test_prefer_wait_answers_with_the_outcome_and_says_so(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 5)
    r = await create(client, auth.customer(12), 12, (sku, 3))
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "awaiting payment"
    assert body["payment_deadline"] is not None
    assert r.headers["Preference-Applied"] == "wait=5"
    assert body["items"] == [{"sku": sku, "count": 3, "price": None}]


async def test_prefer_wait_above_30_is_capped(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 5)
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 13, "items": [{"sku": sku, "count": 1}]},
        headers={**auth.customer(13), "Prefer": "respond-async, wait=600"},
    )
    assert r.headers["Preference-Applied"] == "wait=30"
    assert r.json()["status"] == "awaiting payment"


async def test_reservation_spreads_over_warehouses_most_stock_first(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 3, 10, 4)
    r = await create(client, auth.customer(14), 14, (sku, 13))
    assert r.json()["status"] == "awaiting payment"
    assert await db.held(r.json()["order_id"]) == {wh[1]: 10, wh[2]: 3}


async def test_short_stock_fails_the_whole_order_and_keeps_it_recorded(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    plenty, scarce = new_sku(), new_sku()
    await db.stock(plenty, 100)
    await db.stock(scarce, 1, 1)
    r = await create(client, auth.customer(15), 15, (plenty, 5), (scarce, 3))
    body = r.json()
    assert r.status_code == 201
    assert body["status"] == "failed"
    assert body["shortages"] == [{"sku": scarce, "requested": 3, "available": 2}]
    assert (await db.levels(plenty))["reserved"] == 0
    got = await client.get(f"/api/v1/orders/{body['order_id']}", headers=auth.customer(15))
    assert got.json()["status"] == "failed"


async def test_an_sku_nobody_stocks_fails_the_order(client: httpx.AsyncClient, auth: Auth) -> None:
    sku = new_sku()
    r = await create(client, auth.customer(16), 16, (sku, 1))
    assert r.json()["status"] == "failed"
    assert r.json()["shortages"] == [{"sku": sku, "requested": 1, "available": 0}]


async def test_pay_writes_off_the_reserved_units(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 4, 4)
    order_id = (await create(client, auth.customer(17), 17, (sku, 6))).json()["order_id"]
    r = await client.post(f"/api/v1/orders/{order_id}/pay", headers=auth.customer(17))
    assert r.status_code == 200
    assert r.json()["status"] == "paid"
    assert await db.levels(sku) == {"total": 2, "reserved": 0, "written_off": 6, "available": 2}


async def test_cancel_releases_the_reservation(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 5)
    order_id = (await create(client, auth.customer(18), 18, (sku, 5))).json()["order_id"]
    assert (await db.levels(sku))["available"] == 0
    r = await client.post(f"/api/v1/orders/{order_id}/cancel", headers=auth.customer(18))
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    assert r.json()["cancel_reason"] == "customer"
    assert await db.levels(sku) == {"total": 5, "reserved": 0, "written_off": 0, "available": 5}


async def test_paid_order_cannot_be_cancelled_or_paid_again(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 5)
    order_id = (await create(client, auth.customer(19), 19, (sku, 1))).json()["order_id"]
    await client.post(f"/api/v1/orders/{order_id}/pay", headers=auth.customer(19))
    for action in ("cancel", "pay"):
        r = await client.post(f"/api/v1/orders/{order_id}/{action}", headers=auth.customer(19))
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert "paid" in r.json()["detail"]
    assert await db.levels(sku) == {"total": 4, "reserved": 0, "written_off": 1, "available": 4}


async def test_failed_and_cancelled_orders_cannot_be_paid_or_cancelled(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 1)
    failed = (await create(client, auth.customer(20), 20, (sku, 2))).json()["order_id"]
    cancelled = (await create(client, auth.customer(20), 20, (sku, 1))).json()["order_id"]
    await client.post(f"/api/v1/orders/{cancelled}/cancel", headers=auth.customer(20))
    for order_id in (failed, cancelled):
        for action in ("pay", "cancel"):
            r = await client.post(f"/api/v1/orders/{order_id}/{action}", headers=auth.customer(20))
            assert r.status_code == 409, (order_id, action)


async def test_a_new_order_can_be_cancelled_before_it_is_reserved(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 5)
    r = await create(client, auth.customer(21), 21, (sku, 2), wait=False)
    cancel = await client.post(f"/api/v1/orders/{r.json()['order_id']}/cancel", headers=auth.customer(21))
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"
    assert (await db.levels(sku))["reserved"] == 0


async def test_duplicate_skus_are_merged_into_one_line(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    r = await create(client, auth.service(), 22, (sku, 2), (sku, 3))
    assert r.json()["items"] == [{"sku": sku, "count": 5, "price": None}]
    assert (await db.levels(sku))["reserved"] == 5


async def test_staff_prices_make_a_total_and_one_missing_price_makes_it_null(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    a, b = new_sku(), new_sku()
    await db.stock(a, 10)
    await db.stock(b, 10)
    priced = await create(client, auth.service(), 23, (a, 2), (b, 1), prices={a: 1500, b: 99})
    assert priced.json()["total_price"] == 3099
    assert {i["sku"]: i["price"] for i in priced.json()["items"]} == {a: 1500, b: 99}
    partly = await create(client, auth.manager(), 23, (a, 1), (b, 1), prices={a: 1500})
    assert partly.json()["total_price"] is None
    unpriced = await create(client, auth.customer(23), 23, (a, 1))
    assert unpriced.json()["total_price"] is None


async def test_list_is_newest_first_in_cursor_pages(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 50)
    ids = [(await create(client, auth.customer(24), 24, (sku, 1))).json()["order_id"] for _ in range(5)]
    first = (await client.get("/api/v1/orders", params={"limit": 2}, headers=auth.customer(24))).json()
    assert [o["order_id"] for o in first["items"]] == ids[::-1][:2]
    second = (
        await client.get(
            "/api/v1/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth.customer(24)
        )
    ).json()
    assert [o["order_id"] for o in second["items"]] == ids[::-1][2:4]
    last = (
        await client.get(
            "/api/v1/orders", params={"limit": 2, "cursor": second["next_cursor"]}, headers=auth.customer(24)
        )
    ).json()
    assert [o["order_id"] for o in last["items"]] == ids[:1]
    assert last["next_cursor"] is None


async def test_staff_filter_the_list_by_user_and_status(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 50)
    keep = (await create(client, auth.service(), 25, (sku, 1))).json()["order_id"]
    paid = (await create(client, auth.service(), 25, (sku, 1))).json()["order_id"]
    await client.post(f"/api/v1/orders/{paid}/pay", headers=auth.service())
    await create(client, auth.service(), 26, (sku, 1))
    r = await client.get("/api/v1/orders", params={"user_id": 25, "status": "awaiting payment"}, headers=auth.manager())
    assert [o["order_id"] for o in r.json()["items"]] == [keep]
    r = await client.get("/api/v1/orders", params={"user_id": 25, "status": "paid"}, headers=auth.service())
    assert [o["order_id"] for o in r.json()["items"]] == [paid]

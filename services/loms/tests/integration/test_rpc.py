"""The route256 LOMS endpoints, field for field."""

from __future__ import annotations

import httpx

from ..conftest import Auth, Database, new_sku


async def test_create_order_answers_order_id_and_list_order_shows_it(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    r = await client.post(
        "/createOrder",
        json={"user": 31, "items": [{"sku": sku, "count": 2}]},
        headers={**auth.customer(31), "Prefer": "wait=5"},
    )
    assert r.status_code == 200
    assert set(r.json()) == {"orderID"}
    assert r.headers["Preference-Applied"] == "wait=5"
    listed = await client.post("/listOrder", json={"orderID": r.json()["orderID"]}, headers=auth.customer(31))
    assert listed.status_code == 200
    assert listed.json() == {"status": "awaiting payment", "user": 31, "items": [{"sku": sku, "count": 2}]}


async def test_order_payed_answers_empty_object_and_writes_off(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    order_id = (
        await client.post(
            "/createOrder",
            json={"user": 32, "items": [{"sku": sku, "count": 4}]},
            headers={**auth.service(), "Prefer": "wait=5"},
        )
    ).json()["orderID"]
    r = await client.post("/orderPayed", json={"orderID": order_id}, headers=auth.service())
    assert (r.status_code, r.json()) == (200, {})
    listed = await client.post("/listOrder", json={"orderID": order_id}, headers=auth.service())
    assert listed.json()["status"] == "paid"
    assert (await db.levels(sku))["total"] == 6


async def test_cancel_order_answers_empty_object_and_releases(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    order_id = (
        await client.post(
            "/createOrder",
            json={"user": 33, "items": [{"sku": sku, "count": 4}]},
            headers={**auth.customer(33), "Prefer": "wait=5"},
        )
    ).json()["orderID"]
    r = await client.post("/cancelOrder", json={"orderID": order_id}, headers=auth.customer(33))
    assert (r.status_code, r.json()) == (200, {})
    assert (await db.levels(sku))["reserved"] == 0
    again = await client.post("/cancelOrder", json={"orderID": order_id}, headers=auth.customer(33))
    assert again.status_code == 409


async def test_stocks_answers_warehouse_id_and_count_that_can_be_bought(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 7, 3)
    await client.post(
        "/createOrder",
        json={"user": 34, "items": [{"sku": sku, "count": 5}]},
        headers={**auth.customer(34), "Prefer": "wait=5"},
    )
    r = await client.post("/stocks", json={"sku": sku}, headers=auth.customer(34))
    assert r.status_code == 200
    assert r.json() == {"stocks": [{"warehouseID": wh[0], "count": 2}, {"warehouseID": wh[1], "count": 3}]}


async def test_rpc_endpoints_need_a_token(client: httpx.AsyncClient) -> None:
    for path, body in (
        ("/createOrder", {"user": 1, "items": [{"sku": 1, "count": 1}]}),
        ("/listOrder", {"orderID": 1}),
        ("/orderPayed", {"orderID": 1}),
        ("/cancelOrder", {"orderID": 1}),
        ("/stocks", {"sku": 1}),
    ):
        r = await client.post(path, json=body)
        assert r.status_code == 401, path
        assert r.headers["content-type"] == "application/problem+json"


async def test_list_order_of_another_customer_is_404(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    order_id = (
        await client.post(
            "/createOrder", json={"user": 35, "items": [{"sku": sku, "count": 1}]}, headers=auth.customer(35)
        )
    ).json()["orderID"]
    for path in ("/listOrder", "/orderPayed", "/cancelOrder"):
        r = await client.post(path, json={"orderID": order_id}, headers=auth.customer(36))
        assert r.status_code == 404, path

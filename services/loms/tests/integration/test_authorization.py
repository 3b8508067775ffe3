"""Who may do what: customers their own orders only, staff everything, nobody without a token."""

from __future__ import annotations

import httpx
import pytest

from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, new_sku


@pytest.fixture
async def order_of_51(client: httpx.AsyncClient, auth: Auth, db: Database) -> int:
    sku = new_sku()
    await db.stock(sku, 10)
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 51, "items": [{"sku": sku, "count": 1}]},
        headers={**auth.customer(51), "Prefer": "wait=5"},
    )
    assert r.json()["status"] == "awaiting payment"
    return int(r.json()["order_id"])


async def test_another_customers_order_is_404_for_every_action(
    client: httpx.AsyncClient, auth: Auth, db: Database, order_of_51: int
) -> None:
    stranger = auth.customer(52)
    before = await db.counts()
    assert (await client.get(f"/api/v1/orders/{order_of_51}", headers=stranger)).status_code == 404
    for action in ("pay", "cancel"):
        r = await client.post(f"/api/v1/orders/{order_of_51}/{action}", headers=stranger)
        assert r.status_code == 404
        assert r.json()["detail"] == f"Order {order_of_51} not found"
    assert await db.counts() == before
    mine = await client.get(f"/api/v1/orders/{order_of_51}", headers=auth.customer(51))
    assert mine.status_code == 200


async def test_customer_lists_only_own_orders(client: httpx.AsyncClient, auth: Auth, order_of_51: int) -> None:
    r = await client.get("/api/v1/orders", headers=auth.customer(52))
    assert order_of_51 not in [o["order_id"] for o in r.json()["items"]]
    r = await client.get("/api/v1/orders", params={"user_id": 51}, headers=auth.customer(52))
    assert r.status_code == 403
    r = await client.get("/api/v1/orders", headers=auth.customer(51))
    assert order_of_51 in [o["order_id"] for o in r.json()["items"]]


async def test_customer_cannot_create_for_someone_else(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    before = await db.counts()
    r = await client.post(
        "/api/v1/orders", json={"user_id": 51, "items": [{"sku": new_sku(), "count": 1}]}, headers=auth.customer(52)
    )
    assert r.status_code == 403
    r = await client.post(
        "/createOrder", json={"user": 51, "items": [{"sku": new_sku(), "count": 1}]}, headers=auth.customer(52)
    )
    assert r.status_code == 403
    assert await db.counts() == before


async def test_customer_cannot_pass_prices(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    before = await db.counts()
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 53, "items": [{"sku": new_sku(), "count": 1, "price": 1}]},
        headers=auth.customer(53),
    )
    assert r.status_code == 403
    assert "price" in r.json()["detail"]
    assert await db.counts() == before


async def test_manager_and_service_reach_every_order(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    ids = []
    for _ in range(2):
        r = await client.post(
            "/api/v1/orders",
            json={"user_id": 54, "items": [{"sku": sku, "count": 1}]},
            headers={**auth.customer(54), "Prefer": "wait=5"},
        )
        ids.append(r.json()["order_id"])
    for staff in (auth.manager(), auth.service()):
        assert (await client.get(f"/api/v1/orders/{ids[0]}", headers=staff)).status_code == 200
        listed = await client.get("/api/v1/orders", params={"user_id": 54}, headers=staff)
        assert {o["order_id"] for o in listed.json()["items"]} == set(ids)
    paid = await client.post(f"/api/v1/orders/{ids[0]}/pay", headers=auth.service())
    assert paid.json()["status"] == "paid"
    cancelled = await client.post(f"/api/v1/orders/{ids[1]}/cancel", headers=auth.manager())
    assert cancelled.json()["cancel_reason"] == "staff"


async def test_customer_cannot_cancel_as_staff(client: httpx.AsyncClient, auth: Auth, order_of_51: int) -> None:
    r = await client.post(f"/api/v1/orders/{order_of_51}/cancel", json={"reason": "staff"}, headers=auth.customer(51))
    assert r.status_code == 403


async def test_service_cancelling_for_a_customer_gives_reason_customer(
    client: httpx.AsyncClient, auth: Auth, order_of_51: int
) -> None:
    r = await client.post(f"/api/v1/orders/{order_of_51}/cancel", headers=auth.service())
    assert r.json()["cancel_reason"] == "customer"


async def test_no_token_is_401_and_a_forged_one_too(
    client: httpx.AsyncClient, order_of_51: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    forger = TestIssuer(tmp_path_factory.mktemp("forger"))
    for headers in ({}, {"Authorization": "Bearer nonsense"}, forger.auth(51, "manager")):
        for method, path in (
            ("GET", f"/api/v1/orders/{order_of_51}"),
            ("GET", "/api/v1/orders"),
            ("POST", f"/api/v1/orders/{order_of_51}/pay"),
            ("POST", "/api/v1/orders"),
        ):
            r = await client.request(
                method,
                path,
                headers=headers,
                json={"user_id": 51, "items": [{"sku": 5, "count": 1}]}
                if path == "/api/v1/orders" and method == "POST"
                else None,
            )
            assert r.status_code == 401, (headers, method, path)
            assert r.headers["content-type"] == "application/problem+json"


async def test_stock_reads_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"/api/v1/stocks/{new_sku()}")).status_code == 200
    assert (await client.get("/api/v1/stocks", params={"sku": new_sku()})).status_code == 200

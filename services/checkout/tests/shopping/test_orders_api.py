"""`/api/v1/orders`: the caller's orders through LOMS, the caller's identity carried through."""

from __future__ import annotations

from typing import Any

import httpx

from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook, available


async def order(client: httpx.AsyncClient, auth: dict[str, str], items: list[dict[str, int]]) -> dict[str, Any]:
    r = await client.post("/api/v1/orders", json={"items": items}, headers=auth)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_an_order_straight_from_items_carries_todays_prices(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(401, "customer")
    made = await order(client, auth, [{"sku": sku, "count": 2}])
    assert made["status"] == "awaiting payment"
    got = (await client.get(f"/api/v1/orders/{made['order_id']}", headers=auth)).json()
    price = (await client.get(f"/api/v1/products/{sku}")).json()["price"]
    assert got["user_id"] == 401 and got["status"] == "awaiting payment"
    assert got["items"] == [{"sku": sku, "count": 2, "price": price}]
    assert got["total_price"] == 2 * price and got["created_at"]


async def test_another_customers_order_is_404(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    made = await order(client, test_issuer.auth(402, "customer"), [{"sku": sku, "count": 1}])
    stranger = test_issuer.auth(403, "customer")
    assert (await client.get(f"/api/v1/orders/{made['order_id']}", headers=stranger)).status_code == 404
    assert (await client.post(f"/api/v1/orders/{made['order_id']}/pay", headers=stranger)).status_code == 404
    assert (await client.post(f"/api/v1/orders/{made['order_id']}/cancel", headers=stranger)).status_code == 404


async def test_customers_list_their_own_orders_newest_first_and_managers_filter_anyones(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=10)
    client = await checkout(product=await product_stub(), loms=loms)
    mine = test_issuer.auth(404, "customer")
    ids = [(await order(client, mine, [{"sku": sku, "count": 1}]))["order_id"] for _ in range(3)]
    await order(client, test_issuer.auth(405, "customer"), [{"sku": sku, "count": 1}])
    listed = (await client.get("/api/v1/orders", headers=mine)).json()
    assert [o["order_id"] for o in listed["items"]] == ids[::-1]
    page = (await client.get("/api/v1/orders", params={"limit": 2}, headers=mine)).json()
    rest = (await client.get("/api/v1/orders", params={"limit": 2, "cursor": page["next_cursor"]}, headers=mine)).json()
    assert [o["order_id"] for o in page["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None
    managed = (
        await client.get("/api/v1/orders", params={"user_id": 404}, headers=test_issuer.auth(1, "manager"))
    ).json()
    assert [o["order_id"] for o in managed["items"]] == ids[::-1]
    assert (await client.get("/api/v1/orders", params={"user_id": 405}, headers=mine)).status_code == 403


async def test_pay_then_cancel_is_409_and_cancel_releases_stock(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    paid_sku, cancelled_sku = stock_book.take(at_least=5), stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(406, "customer")
    paid = await order(client, auth, [{"sku": paid_sku, "count": 1}])
    r = await client.post(f"/api/v1/orders/{paid['order_id']}/pay", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "paid"
    assert (await client.post(f"/api/v1/orders/{paid['order_id']}/cancel", headers=auth)).status_code == 409
    before = await available(loms, cancelled_sku)
    dropped = await order(client, auth, [{"sku": cancelled_sku, "count": 2}])
    assert await available(loms, cancelled_sku) == before - 2
    r = await client.post(f"/api/v1/orders/{dropped['order_id']}/cancel", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert await available(loms, cancelled_sku) == before


async def test_ordering_an_unknown_sku_is_404_and_bad_items_are_422(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    test_issuer: TestIssuer,
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(407, "customer")
    r = await client.post("/api/v1/orders", json={"items": [{"sku": 7, "count": 1}]}, headers=auth)
    assert r.status_code == 404 and r.json()["skus"] == [7]
    for bad in ({"items": []}, {"items": [{"sku": 1, "count": 0}]}, {"items": [{"sku": 1}]}, {}):
        assert (await client.post("/api/v1/orders", json=bad, headers=auth)).status_code == 422, bad


async def test_a_customer_cannot_order_for_someone_else(
    checkout: CheckoutFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    client = await checkout(loms=loms)
    r = await client.post(
        "/api/v1/orders",
        json={"items": [{"sku": 1, "count": 1}], "user_id": 409},
        headers=test_issuer.auth(408, "customer"),
    )
    assert r.status_code == 403


async def test_orders_need_a_token(checkout: CheckoutFactory) -> None:
    client = await checkout()
    assert (await client.get("/api/v1/orders")).status_code == 401
    assert (await client.post("/api/v1/orders", json={"items": [{"sku": 1, "count": 1}]})).status_code == 401

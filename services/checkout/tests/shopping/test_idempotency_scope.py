"""`Idempotency-Key` is scoped to the caller and the route (CONTRACT.md): the same key from another
caller, or on another route, is another request; from the same caller on the same route it replays
the first answer, and with a different body it is 422."""

from __future__ import annotations

from typing import Any

import httpx

from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook


async def orders_of(loms: CountingTransport, issuer: TestIssuer, user_id: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(transport=loms, base_url="http://loms") as client:
        r = await client.get(
            "/api/v1/orders", params={"user_id": user_id, "limit": 200}, headers=issuer.auth(1, "manager")
        )
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


def keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


async def add(client: httpx.AsyncClient, auth: dict[str, str], sku: int) -> None:
    r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth)
    assert r.status_code == 200, r.text


async def test_a_managers_key_and_the_customers_same_key_make_two_orders(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    body = {"items": [{"sku": sku, "count": 1}], "user_id": 1301}
    by_manager = await client.post("/api/v1/orders", json=body, headers=keyed(test_issuer.auth(1, "manager"), "k-1"))
    by_customer = await client.post(
        "/api/v1/orders", json=body, headers=keyed(test_issuer.auth(1301, "customer"), "k-1")
    )
    assert by_manager.status_code == by_customer.status_code == 201, (by_manager.text, by_customer.text)
    assert by_manager.json()["order_id"] != by_customer.json()["order_id"]
    assert len(await orders_of(loms, test_issuer, 1301)) == 2


async def test_two_customers_with_one_key_make_their_own_orders(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    made = []
    for user in (1302, 1303):
        auth = keyed(test_issuer.auth(user, "customer"), "shared-key")
        await add(client, test_issuer.auth(user, "customer"), sku)
        checked_out = await client.post("/api/v1/cart/checkout", headers=auth)
        ordered = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=auth)
        assert checked_out.status_code == ordered.status_code == 201, (checked_out.text, ordered.text)
        made += [checked_out.json()["order_id"], ordered.json()["order_id"]]
    assert len(set(made)) == 4


async def test_the_same_key_on_purchase_and_on_cart_checkout_makes_two_orders(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(1304, "customer")
    await add(client, auth, sku)
    purchased = await client.post("/purchase", json={"user": 1304}, headers=keyed(auth, "k-2"))
    assert purchased.status_code == 200, purchased.text
    await add(client, auth, sku)
    checked_out = await client.post("/api/v1/cart/checkout", headers=keyed(auth, "k-2"))
    assert checked_out.status_code == 201, checked_out.text
    assert checked_out.json()["order_id"] != purchased.json()["orderID"]
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"] == []
    # Each route still replays its own first answer.
    again = await client.post("/purchase", json={"user": 1304}, headers=keyed(auth, "k-2"))
    assert again.json()["orderID"] == purchased.json()["orderID"]
    assert len(await orders_of(loms, test_issuer, 1304)) == 2


async def test_one_callers_key_reused_for_another_users_cart_is_422(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    manager = keyed(test_issuer.auth(1, "manager"), "k-3")
    for user in (1305, 1306):
        await add(client, test_issuer.auth(user, "customer"), sku)
    first = await client.post("/purchase", json={"user": 1305}, headers=manager)
    assert first.status_code == 200, first.text
    other = await client.post("/purchase", json={"user": 1306}, headers=manager)
    assert other.status_code == 422, other.text
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await orders_of(loms, test_issuer, 1306) == []
    assert len((await client.get("/api/v1/cart", headers=test_issuer.auth(1306, "customer"))).json()["items"]) == 1


async def test_one_key_on_checkout_order_pay_and_cancel_does_each_once(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(1307, "customer")
    key = keyed(auth, "k-4")
    await add(client, auth, sku)
    from_cart = (await client.post("/api/v1/cart/checkout", headers=key)).json()["order_id"]
    from_items = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=key)
    assert from_items.status_code == 201 and from_items.json()["order_id"] != from_cart
    paid = await client.post(f"/api/v1/orders/{from_cart}/pay", headers=key)
    cancelled = await client.post(f"/api/v1/orders/{from_items.json()['order_id']}/cancel", headers=key)
    assert (paid.status_code, paid.json()["status"]) == (200, "paid")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    # Replays on each route answer that route's first answer.
    again = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=key)
    assert again.json()["order_id"] == from_items.json()["order_id"]
    changed = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 2}]}, headers=key)
    assert changed.status_code == 422
    assert len(await orders_of(loms, test_issuer, 1307)) == 2


async def test_a_key_loms_would_refuse_is_422_here(
    checkout: CheckoutFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    client = await checkout(loms=loms)
    r = await client.post("/api/v1/cart/checkout", headers=keyed(test_issuer.auth(1308, "customer"), "has space"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_same_key_after_a_price_change_replays_the_order(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    product_db: str,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """The retry asked ProductService again and sent LOMS today's price under the first request's
    key: LOMS saw another body and the client got 422 for the key it had every right to resend."""
    from sqlalchemy import text

    from shopcommon.db import make_engine

    sku = stock_book.take(at_least=3)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = keyed(test_issuer.auth(561, "customer"), "items-561")
    body = {"items": [{"sku": sku, "count": 1}]}
    first = await client.post("/api/v1/orders", json=body, headers=auth)
    assert first.status_code == 201, first.text
    engine = make_engine(product_db, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE products SET price = price + 100 WHERE sku = :sku"), {"sku": sku})
    finally:
        await engine.dispose()
    shop = client._transport.app.state.shopping  # type: ignore[attr-defined]
    await shop.redis.delete(shop.products._key(sku))  # the cached price has run out
    again = await client.post("/api/v1/orders", json=body, headers=auth)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert len(await orders_of(loms, test_issuer, 561)) == 1


async def test_the_same_key_twice_at_once_is_409_for_the_second_on_both_routes(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    import asyncio

    a, b = stock_book.take(at_least=3), stock_book.take(at_least=3)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = keyed(test_issuer.auth(562, "customer"), "twice-562")
    await add(client, auth, b)
    loms.slow["/api/v1/orders"] = 0.5
    try:
        direct = await asyncio.gather(
            *(client.post("/api/v1/orders", json={"items": [{"sku": a, "count": 1}]}, headers=auth) for _ in "ab")
        )
        carted = await asyncio.gather(*(client.post("/api/v1/cart/checkout", headers=auth) for _ in "ab"))
    finally:
        loms.slow.clear()
    for pair in (direct, carted):
        assert sorted(r.status_code for r in pair) == [201, 409], [r.text for r in pair]
        (second,) = [r for r in pair if r.status_code == 409]
        assert second.json()["type"].endswith("/idempotency-key-in-use")
    assert len(await orders_of(loms, test_issuer, 562)) == 2
    after = await client.post("/api/v1/orders", json={"items": [{"sku": a, "count": 1}]}, headers=auth)
    assert after.status_code == 201 and after.json() in [r.json() for r in direct], after.text


async def test_an_answer_kept_before_keys_named_their_request_is_still_replayed(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """A checkout answered before an upgrade is kept as `{user_id, result}`: a retry after the upgrade
    must get that order, not 422 for a key whose record names no request."""
    import orjson

    from checkout.shopping.deps import ClientKey

    sku = stock_book.take(at_least=3)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = keyed(test_issuer.auth(563, "customer"), "kept-before-563")
    await add(client, auth, sku)
    shop = client._transport.app.state.shopping  # type: ignore[attr-defined]
    key = ClientKey("kept-before-563", "customer:563", "POST /api/v1/cart/checkout")
    kept = {"user_id": 563, "result": {"order_id": 987_654, "status": "awaiting payment"}}
    await shop.redis.set(f"{shop.redis_prefix}checkout-replay:{key.scoped()}", orjson.dumps(kept), ex=60)
    again = await client.post("/api/v1/cart/checkout", headers=auth)
    assert (again.status_code, again.json()) == (201, kept["result"]), again.text
    assert len((await client.get("/api/v1/cart", headers=auth)).json()["items"]) == 1  # nothing ordered again

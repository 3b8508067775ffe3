"""Adding to a cart asks LOMS for stock first: a line never holds more than can be bought now."""

from __future__ import annotations

import asyncio

from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook, available


async def test_adding_within_stock_puts_the_line_in_the_cart(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(201, "customer")
    r = await client.post("/addToCart", json={"user": 201, "sku": sku, "count": 2}, headers=auth)
    assert r.status_code == 200 and r.json() == {}
    r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 3}, headers=auth)
    assert r.json() == {"sku": sku, "count": 5}
    listed = await client.get("/api/v1/cart", headers=auth)
    assert [(i["sku"], i["count"]) for i in listed.json()["items"]] == [(sku, 5)]


async def test_adding_more_than_available_is_409_naming_the_sku_and_what_is_available(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=1, at_most=50)
    stock = await available(loms, sku)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(202, "customer")
    r = await client.post("/addToCart", json={"user": 202, "sku": sku, "count": stock + 1}, headers=auth)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["sku"], body["available"]) == (sku, stock)
    assert str(sku) in body["detail"]
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"] == []


async def test_the_line_total_counts_against_stock_not_just_the_added_units(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=2, at_most=50)
    stock = await available(loms, sku)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(203, "customer")
    assert (
        await client.post("/api/v1/cart/items", json={"sku": sku, "count": stock - 1}, headers=auth)
    ).status_code == 200
    r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 2}, headers=auth)
    assert r.status_code == 409
    assert (r.json()["in_cart"], r.json()["available"]) == (stock - 1, stock)
    r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth)
    assert r.json() == {"sku": sku, "count": stock}


async def test_an_sku_out_of_stock_cannot_be_added(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=0, at_most=0)
    client = await checkout(product=await product_stub(), loms=loms)
    r = await client.post(
        "/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=test_issuer.auth(204, "customer")
    )
    assert r.status_code == 409
    assert r.json()["available"] == 0


async def test_concurrent_adds_never_take_a_line_past_the_stock(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=2, at_most=10)
    stock = await available(loms, sku)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(205, "customer")
    answers = await asyncio.gather(
        *(client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth) for _ in range(stock + 5))
    )
    assert sorted(r.status_code for r in answers) == [200] * stock + [409] * 5
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"][0]["count"] == stock


async def test_a_manager_may_fill_a_customers_cart(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=1)
    client = await checkout(product=await product_stub(), loms=loms)
    r = await client.post(
        "/addToCart", json={"user": 206, "sku": sku, "count": 1}, headers=test_issuer.auth(1, "manager")
    )
    assert r.status_code == 200
    mine = await client.get("/api/v1/cart", headers=test_issuer.auth(206, "customer"))
    assert [i["sku"] for i in mine.json()["items"]] == [sku]


async def test_a_full_cart_takes_more_of_its_lines_but_no_new_line(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """A cart holds at most `cart_max_lines` skus (LOMS takes at most 200 lines an order): a new
    sku beyond that is 409 `cart-full`, through REST and route256's RPC, and changes nothing."""
    first, second, third = (stock_book.take(at_least=3) for _ in range(3))
    client = await checkout(product=await product_stub(), loms=loms, cart_max_lines=2)
    auth = test_issuer.auth(211, "customer")
    for sku in (first, second):
        assert (await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth)).status_code == 200
    refused = await client.post("/api/v1/cart/items", json={"sku": third, "count": 1}, headers=auth)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/cart-full") and refused.json()["max_lines"] == 2
    rpc = await client.post("/addToCart", json={"user": 211, "sku": third, "count": 1}, headers=auth)
    assert rpc.status_code == 409 and rpc.json()["max_lines"] == 2
    more = await client.post("/api/v1/cart/items", json={"sku": first, "count": 2}, headers=auth)
    assert more.json() == {"sku": first, "count": 3}
    listed = await client.get("/api/v1/cart", headers=auth)
    assert sorted(i["sku"] for i in listed.json()["items"]) == sorted([first, second])
    assert (await client.delete(f"/api/v1/cart/items/{second}", headers=auth)).status_code == 200
    added = await client.post("/api/v1/cart/items", json={"sku": third, "count": 1}, headers=auth)
    assert added.json() == {"sku": third, "count": 1}


async def test_new_lines_racing_for_the_last_place_in_a_cart_get_it_once(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """Adds of one cart take turns on the cart's lock, so five new skus sent together at a cart
    one line short of full leave it exactly full."""
    kept, *racing = (stock_book.take(at_least=1) for _ in range(6))
    client = await checkout(product=await product_stub(), loms=loms, cart_max_lines=2)
    auth = test_issuer.auth(212, "customer")
    assert (await client.post("/api/v1/cart/items", json={"sku": kept, "count": 1}, headers=auth)).status_code == 200
    answers = await asyncio.gather(
        *(client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth) for sku in racing)
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    listed = await client.get("/api/v1/cart", headers=auth)
    assert len(listed.json()["items"]) == 2

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

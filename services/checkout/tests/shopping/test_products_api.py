"""`GET /api/v1/products`: the catalogue with LOMS's stock, public, one request per page to each service."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from product_stub.demo import demo_products

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook

PRODUCTS = demo_products()


async def walk(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await client.get("/api/v1/products", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_products_carry_quantity_in_stock_from_loms_without_a_token(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, stock_book: StockBook
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    r = await client.get("/api/v1/products", params={"limit": 50})
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 50
    assert set(items[0]) == {"sku", "name", "price", "quantity_in_stock", "category", "manufacturer"}
    assert all(p["quantity_in_stock"] == stock_book.levels[p["sku"]] for p in items if p["sku"] not in stock_book.taken)


async def test_walking_the_pages_lists_every_product_once_in_sku_order(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    skus = [p["sku"] for p in await walk(client, limit=37)]
    assert skus == sorted(p.sku for p in PRODUCTS)


async def test_each_page_is_one_request_to_product_stub_and_one_to_loms(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms)
    loms.calls.clear()
    r = await client.get("/api/v1/products", params={"limit": 100})
    assert len(r.json()["items"]) == 100
    assert stub.calls == ["/api/v1/products"]
    assert loms.calls == ["/api/v1/stocks"]


async def test_in_stock_filters_on_what_can_be_bought_now(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    everything = await walk(client, limit=200)
    buyable = await walk(client, limit=25, in_stock="true")
    none_left = await walk(client, limit=25, in_stock="false")
    assert buyable and none_left
    assert [p["sku"] for p in buyable] == [p["sku"] for p in everything if p["quantity_in_stock"] > 0]
    assert [p["sku"] for p in none_left] == [p["sku"] for p in everything if p["quantity_in_stock"] == 0]


async def test_category_manufacturer_and_price_filters_pass_through(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    sample = PRODUCTS[0]
    found = await walk(client, category=sample.category, manufacturer=sample.manufacturer, limit=50)
    assert found and all((p["category"], p["manufacturer"]) == (sample.category, sample.manufacturer) for p in found)
    assert sample.sku in {p["sku"] for p in found}
    priced = await walk(client, min_price=100_000, max_price=200_000, limit=200)
    assert sorted(p["sku"] for p in priced) == sorted(p.sku for p in PRODUCTS if 100_000 <= p.price <= 200_000)


async def test_one_product_with_its_stock_and_an_unknown_one_is_404(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, stock_book: StockBook
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    sample = PRODUCTS[3]
    r = await client.get(f"/api/v1/products/{sample.sku}")
    assert r.json()["name"] == sample.name and r.json()["price"] == sample.price
    assert r.json()["quantity_in_stock"] >= 0
    assert (await client.get("/api/v1/products/7")).status_code == 404
    assert (await client.get("/api/v1/products/0")).status_code == 422


async def test_bad_cursors_and_filters_are_problems(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    client = await checkout(product=await product_stub(), loms=loms)
    assert (await client.get("/api/v1/products", params={"cursor": "garbage!"})).status_code == 400
    assert (await client.get("/api/v1/products", params={"limit": 0})).status_code == 422
    assert (await client.get("/api/v1/products", params={"min_price": -1})).status_code == 422
    assert (await client.get("/api/v1/products", params={"in_stock": "maybe"})).status_code == 422


async def test_the_catalogue_is_503_when_loms_or_product_service_is_down(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    no_loms = await checkout(product=await product_stub())
    assert (await no_loms.get("/api/v1/products")).status_code == 503
    no_products = await checkout(loms=loms)
    r = await no_products.get("/api/v1/products")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"


async def test_composed_pages_are_reused_within_their_age_then_composed_again(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, stock_book: StockBook
) -> None:
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms, catalogue_cache_ttl=0.3, listing_max_age=0.3)
    loms.calls.clear()
    for _ in range(3):
        assert (await client.get("/api/v1/products", params={"limit": 10})).status_code == 200
    assert stub.calls == ["/api/v1/products"]
    assert loms.calls == ["/api/v1/stocks"]
    await asyncio.sleep(0.35)
    await client.get("/api/v1/products", params={"limit": 10})
    assert stub.calls == ["/api/v1/products"] * 2
    assert loms.calls == ["/api/v1/stocks"] * 2


async def test_a_zero_age_composes_every_request(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    client = await checkout(product=await product_stub(), loms=loms, listing_max_age=0)
    loms.calls.clear()
    for _ in range(3):
        assert (await client.get("/api/v1/products", params={"limit": 10})).status_code == 200
    assert loms.calls == ["/api/v1/stocks"] * 3


async def test_many_requests_at_once_for_one_page_cause_one_refill(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms, listing_max_age=1.0)
    loms.calls.clear()
    pages = await asyncio.gather(*(client.get("/api/v1/products", params={"limit": 20}) for _ in range(32)))
    assert {r.status_code for r in pages} == {200}
    assert len({r.content for r in pages}) == 1
    assert stub.count("/api/v1/products") == 1
    assert loms.calls == ["/api/v1/stocks"]
    # Other queries are other entries: a filter, the next page.
    nxt = await client.get("/api/v1/products", params={"limit": 20, "cursor": pages[0].json()["next_cursor"]})
    assert nxt.json()["items"][0]["sku"] > pages[0].json()["items"][-1]["sku"]
    assert loms.calls == ["/api/v1/stocks"] * 2


async def test_a_failed_refill_is_not_kept(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    client = await checkout(product=await product_stub(), loms=loms, listing_max_age=1.0)
    loms.refuse.add("/api/v1/stocks")
    try:
        assert (await client.get("/api/v1/products", params={"limit": 5})).status_code == 503
    finally:
        loms.refuse.discard("/api/v1/stocks")
    assert (await client.get("/api/v1/products", params={"limit": 5})).status_code == 200

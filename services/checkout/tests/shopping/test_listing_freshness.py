"""The stated bound: a sale (units reserved by an order in LOMS) or stock coming back (the order
cancelled) shows in the listing, in a filtered listing and on the product's own page within 1 s,
although all three are served from the composed-page cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from product_stub.demo import demo_products
from shopcommon.pagination import After, encode_cursor
from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook

#: The bound README states (bench/README.md, "checkout"): `listing_max_age` 0.5 s plus one refill.
BOUND = 1.0
PRODUCTS = {p.sku: p for p in demo_products()}


def readers(client: httpx.AsyncClient, sku: int) -> dict[str, Callable[[], Awaitable[int]]]:
    """Three ways the listing shows the sku's stock: a page by cursor, a filtered page, its own page."""
    product = PRODUCTS[sku]

    async def on_page(params: dict[str, str | int]) -> int:
        r = await client.get("/api/v1/products", params=params)
        assert r.status_code == 200, r.text
        return int(next(p["quantity_in_stock"] for p in r.json()["items"] if p["sku"] == sku))

    async def own_page() -> int:
        r = await client.get(f"/api/v1/products/{sku}")
        assert r.status_code == 200, r.text
        return int(r.json()["quantity_in_stock"])

    return {
        "next page by cursor": lambda: on_page({"limit": 20, "cursor": encode_cursor(After(after=sku - 1))}),
        "filtered": lambda: on_page({"limit": 200, "category": product.category, "manufacturer": product.manufacturer}),
        "product page": own_page,
    }


async def seconds_until(read: Callable[[], Awaitable[int]], want: int, since: float) -> float:
    while True:
        if await read() == want:
            return time.monotonic() - since
        if time.monotonic() - since > BOUND * 3:
            raise AssertionError(f"the listing still did not show {want} after {BOUND * 3} s")
        await asyncio.sleep(0.01)


async def test_a_reservation_and_its_release_show_in_the_listing_within_the_bound(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    before = stock_book.levels[sku]
    client = await checkout(product=await product_stub(), loms=loms)
    reads = readers(client, sku)
    for read in reads.values():  # every answer is in the cache now
        assert await read() == before

    auth = test_issuer.auth(801, "customer")
    r = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 2}]}, headers=auth)
    assert r.status_code == 201 and r.json()["status"] == "awaiting payment", r.text
    reserved = time.monotonic()  # LOMS committed the reservation before it answered
    for name, read in reads.items():
        took = await seconds_until(read, before - 2, reserved)
        assert took <= BOUND, f"{name}: the sale showed after {took:.2f} s"

    r = await client.post(f"/api/v1/orders/{r.json()['order_id']}/cancel", headers=auth)
    assert r.status_code == 200, r.text
    released = time.monotonic()
    for name, read in reads.items():
        took = await seconds_until(read, before, released)
        assert took <= BOUND, f"{name}: the released units showed after {took:.2f} s"

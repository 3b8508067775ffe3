"""ProductService's budget (10 requests a second for the whole shop) is not a customer's to spend:
skus missing from ProductService's own listing are refused without a call, the listing is
refreshed at most once per `product_known_skus_max_age`, and lookups the listing cannot vouch for
are charged to a per-caller quota. Every call is counted on the real product-stub's side."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from redis.asyncio import Redis

from checkout.shopping.product_client import ProductInfo
from checkout.shopping.ratelimit import LookupQuota, TooManyLookups
from product_stub.demo import demo_products
from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductClientFactory, ProductStubFactory

PRODUCTS = demo_products()
KNOWN = {p.sku for p in PRODUCTS}
#: Skus no demo product has (the demo catalogue starts above 1,000,000).
UNKNOWN = [sku for sku in range(1, 1000) if sku not in KNOWN]
PRODUCT_SERVICE = {"/get_product", "/list_skus"}


def product_service_calls(stub: CountingTransport) -> list[str]:
    return [path for path in stub.calls if path in PRODUCT_SERVICE]


async def test_an_order_of_200_unknown_skus_costs_one_listing_and_the_next_one_nothing(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms)
    auth = test_issuer.auth(1201, "customer")
    for batch in (UNKNOWN[:200], UNKNOWN[200:400]):
        r = await client.post("/api/v1/orders", json={"items": [{"sku": s, "count": 1} for s in batch]}, headers=auth)
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["skus"] == sorted(batch)
    assert product_service_calls(stub) == ["/list_skus"]


async def test_random_skus_through_every_route_cost_no_lookups(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms)
    auth = test_issuer.auth(1202, "customer")
    loms.calls.clear()
    for sku in UNKNOWN[:30]:
        added = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth)
        rpc = await client.post("/addToCart", json={"user": 1202, "sku": sku, "count": 1}, headers=auth)
        shown = await client.get(f"/api/v1/products/{sku}")
        assert (added.status_code, rpc.status_code, shown.status_code) == (404, 404, 404)
    assert (await client.post("/listCart", json={"user": 1202}, headers=auth)).json() == {"items": [], "totalPrice": 0}
    assert product_service_calls(stub) == ["/list_skus"]
    assert [path for path in stub.calls if path.startswith("/api/v1/products")] == []
    assert loms.calls == [], "an unknown sku is refused before its stock is asked for"


async def test_a_stale_listing_is_refreshed_once_for_many_unknown_skus_across_replicas(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    stub = await product_stub(latency_ms=50)
    replicas = [await checkout(product=stub, loms=loms, product_known_skus_max_age=2.0) for _ in range(2)]
    auth = test_issuer.auth(1203, "customer")

    async def order(client: httpx.AsyncClient, sku: int) -> int:
        r = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=auth)
        return r.status_code

    assert await order(replicas[0], UNKNOWN[0]) == 404
    await asyncio.sleep(2.1)
    answers = await asyncio.gather(*(order(replicas[i % 2], sku) for i, sku in enumerate(UNKNOWN[1:41])))
    assert answers == [404] * 40
    assert product_service_calls(stub) == ["/list_skus", "/list_skus"]


async def test_a_new_product_becomes_known_within_the_listings_max_age(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    test_issuer: TestIssuer,
) -> None:
    max_age = 1.0
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms, product_known_skus_max_age=max_age)
    auth = test_issuer.auth(1204, "customer")
    sku = UNKNOWN[-1]
    assert (await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth)).status_code == 404
    sample = PRODUCTS[0]
    async with httpx.AsyncClient(transport=stub, base_url="http://product-stub") as products:
        created = await products.post(
            "/api/v1/products",
            json={
                "sku": sku,
                "name": "Budget Test Ukulele",
                "price": 4999,
                "category": sample.category,
                "manufacturer": sample.manufacturer,
            },
            headers=test_issuer.auth(1, "manager"),
        )
        assert created.status_code == 201, created.text
    created_at = time.monotonic()
    # The listing is younger than max_age: it still says "no such sku", without asking.
    assert (await client.get(f"/api/v1/products/{sku}")).status_code == 404
    while True:
        r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=auth)
        if r.status_code != 404:
            break
        assert time.monotonic() - created_at < max_age + 0.5, "the new product stayed unknown past the max age"
        await asyncio.sleep(0.05)
    assert r.status_code == 409 and r.json()["type"].endswith("/out-of-stock"), r.text  # known; LOMS has none
    shown = await client.get(f"/api/v1/products/{sku}")
    assert shown.status_code == 200 and shown.json()["name"] == "Budget Test Ukulele"
    assert product_service_calls(stub).count("/list_skus") == 2


async def test_over_the_quota_a_customer_gets_429_and_other_customers_do_not(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    stub = await product_stub()
    stub.refuse = {"/list_skus"}  # no listing to be had: every lookup must be asked for
    client = await checkout(product=stub, loms=loms, product_lookup_quota=5)
    greedy, other = test_issuer.auth(1205, "customer"), test_issuer.auth(1206, "customer")
    for sku in UNKNOWN[:5]:
        r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=greedy)
        assert r.status_code == 404, r.text
    refused = await client.post("/api/v1/cart/items", json={"sku": UNKNOWN[5], "count": 1}, headers=greedy)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/product-lookup-quota")
    assert 1 <= int(refused.headers["Retry-After"]) <= 12
    order = await client.post("/api/v1/orders", json={"items": [{"sku": UNKNOWN[6], "count": 1}]}, headers=greedy)
    assert order.status_code == 429
    assert stub.count("/get_product") == 5
    # Another customer's lookups, and the first one's already answered skus, still go through.
    r = await client.post("/api/v1/cart/items", json={"sku": UNKNOWN[7], "count": 1}, headers=other)
    assert r.status_code == 404
    again = await client.post("/api/v1/cart/items", json={"sku": UNKNOWN[0], "count": 1}, headers=greedy)
    assert again.status_code == 404, "a cached 'no such sku' costs no quota"
    assert stub.count("/get_product") == 6


async def test_anonymous_lookups_are_charged_to_the_client_address(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    stub = await product_stub()
    stub.refuse = {"/list_skus"}
    one = await checkout(product=stub, loms=loms, product_lookup_quota=3, client_address="198.51.100.7")
    two = await checkout(product=stub, loms=loms, product_lookup_quota=3, client_address="198.51.100.8")
    assert [(await one.get(f"/api/v1/products/{sku}")).status_code for sku in UNKNOWN[:4]] == [404, 404, 404, 429]
    assert (await two.get(f"/api/v1/products/{UNKNOWN[4]}")).status_code == 404
    known = PRODUCTS[1].sku
    signed_in = await one.post(
        "/api/v1/cart/items", json={"sku": known, "count": 1}, headers=test_issuer.auth(1207, "customer")
    )
    assert signed_in.status_code in (200, 409), signed_in.text


async def test_a_cached_no_such_sku_gives_way_to_a_listing_that_names_it(
    product_stub: ProductStubFactory, product_client: ProductClientFactory, test_issuer: TestIssuer
) -> None:
    stub = await product_stub()
    stub.refuse = {"/list_skus"}
    client = product_client(stub, known_skus_max_age=0.3)
    sku = UNKNOWN[-2]
    assert await client.get_product(sku) is None  # asked, since no listing could be had; cached for minutes
    sample = PRODUCTS[0]
    async with httpx.AsyncClient(transport=stub, base_url="http://product-stub") as products:
        created = await products.post(
            "/api/v1/products",
            json={
                "sku": sku,
                "name": "Budget Test Kazoo",
                "price": 999,
                "category": sample.category,
                "manufacturer": sample.manufacturer,
            },
            headers=test_issuer.auth(1, "manager"),
        )
        assert created.status_code == 201, created.text
    assert await client.get_product(sku) is None  # the cached answer, while no listing says otherwise
    stub.refuse.clear()
    await asyncio.sleep(0.35)  # the failed listing is no longer remembered
    assert await client.get_product(sku) == ProductInfo("Budget Test Kazoo", 999)


async def test_known_skus_are_still_fetched_and_cached(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    client = product_client(stub, known_skus_max_age=10)
    skus = sorted(KNOWN)[:5]
    found = await client.get_products(skus + UNKNOWN[:50], caller="user:1208")
    assert [found[s] is not None for s in skus] == [True] * 5
    assert all(found[s] is None for s in UNKNOWN[:50])
    await client.get_products(skus + UNKNOWN[:50], caller="user:1208")
    assert product_service_calls(stub) == ["/list_skus"] + ["/get_product"] * 5


async def test_a_request_needing_more_than_the_quota_passes_once_when_the_bucket_is_full(
    redis: Redis, redis_prefix: str
) -> None:
    quota = LookupQuota(redis, f"{redis_prefix}quota:", per_minute=6)
    await quota.charge("user:1209", 50)  # a large honest cart: slowed, not refused for good
    with pytest.raises(TooManyLookups) as raised:
        await quota.charge("user:1209", 1)
    assert raised.value.status == 429
    assert raised.value.headers == {"Retry-After": "10"}  # one lookup refills every 10 s
    await quota.charge("user:1210", 6)

"""The ProductService client against the real product-stub app and real Redis."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from checkout.shopping.errors import ProductServiceUnavailable
from checkout.shopping.product_client import ProductInfo
from checkout.shopping.ratelimit import RateLimitExceeded, SharedRateLimiter
from product_stub.demo import demo_products
from shopcommon.devstack.servers import free_port

from .conftest import CountingTransport, ProductClientFactory, ProductStubFactory

PRODUCTS = demo_products()
BY_SKU = {p.sku: p for p in PRODUCTS}
SKUS = sorted(BY_SKU)


class InFlight(httpx.AsyncBaseTransport):
    """Records the most requests that were ever in flight at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.now = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


async def test_get_products_returns_the_catalogues_names_and_prices(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    client = product_client(await product_stub())
    found = await client.get_products(SKUS[:3])
    assert found == {s: ProductInfo(BY_SKU[s].name, BY_SKU[s].price) for s in SKUS[:3]}


async def test_unknown_sku_is_none(product_stub: ProductStubFactory, product_client: ProductClientFactory) -> None:
    client = product_client(await product_stub())
    assert await client.get_product(7) is None


async def test_cache_answers_repeated_lookups_without_a_request(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    first, second = product_client(stub), product_client(stub)
    await first.get_products(SKUS[:4])
    again = await second.get_products(SKUS[:4])
    assert stub.count("/get_product") == 4
    assert again[SKUS[0]] == ProductInfo(BY_SKU[SKUS[0]].name, BY_SKU[SKUS[0]].price)


async def test_cached_product_is_fetched_again_after_its_ttl(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    client = product_client(stub, cache_ttl=0.3)
    await client.get_product(SKUS[0])
    await client.get_product(SKUS[0])
    assert stub.count("/get_product") == 1
    await asyncio.sleep(0.4)
    await client.get_product(SKUS[0])
    assert stub.count("/get_product") == 2


async def wait_for_requests(stub: CountingTransport, path: str, count: int, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while stub.count(path) < count:
        assert time.monotonic() < deadline, f"{stub.count(path)} requests to {path}, waited for {count}"
        await asyncio.sleep(0.02)


async def test_a_product_read_in_its_second_half_is_fetched_again_in_the_background(
    product_stub: ProductStubFactory, product_client: ProductClientFactory, redis: Redis, redis_prefix: str
) -> None:
    stub = await product_stub(latency_ms=300)
    a, b = product_client(stub, cache_ttl=30, refresh_after=0.2), product_client(stub, cache_ttl=30, refresh_after=0.2)
    sku = SKUS[7]
    await a.get_product(sku)
    first_at = orjson.loads(await redis.get(f"{redis_prefix}product:{sku}"))["at"]
    await asyncio.sleep(0.3)
    # Both replicas read the old entry at once: both answer from the cache without waiting for
    # ProductService (300 ms), and one of them fetches it again.
    answers = await asyncio.gather(*(c.get_product(sku) for c in (a, b, a, b)))
    assert set(answers) == {ProductInfo(BY_SKU[sku].name, BY_SKU[sku].price)}
    entry = orjson.loads(await redis.get(f"{redis_prefix}product:{sku}"))
    assert entry["at"] == first_at, "a read waited for the refill"
    await wait_for_requests(stub, "/get_product", 2)
    deadline = time.monotonic() + 3
    while orjson.loads(await redis.get(f"{redis_prefix}product:{sku}"))["at"] == first_at:
        assert time.monotonic() < deadline, "the cache entry was not renewed"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.4)
    assert stub.count("/get_product") == 2, "one background fetch per sku across replicas"


async def test_a_failed_background_refresh_keeps_the_cached_product(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    client = product_client(stub, cache_ttl=30, refresh_after=0.1, tries=1)
    sku = SKUS[8]
    await client.get_product(sku)
    await asyncio.sleep(0.15)
    stub.fail_next = [503]
    assert await client.get_product(sku) == ProductInfo(BY_SKU[sku].name, BY_SKU[sku].price)
    await wait_for_requests(stub, "/get_product", 2)
    await asyncio.sleep(0.1)
    assert await client.get_product(sku) == ProductInfo(BY_SKU[sku].name, BY_SKU[sku].price)


async def test_concurrent_lookups_of_one_sku_make_one_request_across_two_clients(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub(latency_ms=200)
    a, b = product_client(stub), product_client(stub)
    answers = await asyncio.gather(*(c.get_product(SKUS[5]) for c in (a, b) for _ in range(10)))
    assert stub.count("/get_product") == 1
    assert {answer for answer in answers} == {ProductInfo(BY_SKU[SKUS[5]].name, BY_SKU[SKUS[5]].price)}


async def test_rate_limit_is_shared_by_two_client_instances(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    # The server refuses more than 10/s; each client alone would send its 8 at once.
    stub = await product_stub(rate_limit_rps=10)
    a, b = product_client(stub, rate=10), product_client(stub, rate=10)
    started = time.monotonic()
    found_a, found_b = await asyncio.gather(a.get_products(SKUS[:8]), b.get_products(SKUS[8:16]))
    elapsed = time.monotonic() - started
    assert stub.count("/get_product") == 16, "a request was refused and retried"
    assert elapsed >= 1.4  # 16 requests evenly spaced at 10/s: 15 intervals of 0.1 s
    assert all(found_a.values()) and all(found_b.values())


async def test_one_cart_has_at_most_five_requests_in_flight(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    watch = InFlight(await product_stub(latency_ms=50))
    client = product_client(watch, rate=1000, burst=100)
    found = await client.get_products(SKUS[:20])
    assert len(found) == 20 and all(found.values())
    assert watch.most == 5


async def test_429_and_5xx_are_retried_until_an_answer(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    stub.fail_next = [503, 429]
    client = product_client(stub)
    assert await client.get_product(SKUS[1]) == ProductInfo(BY_SKU[SKUS[1]].name, BY_SKU[SKUS[1]].price)
    assert stub.count("/get_product") == 3


async def test_420_is_retried_like_429(product_stub: ProductStubFactory, product_client: ProductClientFactory) -> None:
    stub = await product_stub()
    stub.fail_next = [420]
    assert await product_client(stub).get_product(SKUS[2]) is not None
    assert stub.count("/get_product") == 2


async def test_three_failed_tries_end_in_a_503_problem(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    stub.fail_next = [500, 502, 503, 503]
    with pytest.raises(ProductServiceUnavailable) as raised:
        await product_client(stub).get_product(SKUS[3])
    assert raised.value.status == 503
    assert stub.count("/get_product") == 3


async def test_slow_answers_time_out_and_end_in_503_without_hanging(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub(latency_ms=2000)
    client = product_client(stub, timeout=0.1)
    started = time.monotonic()
    with pytest.raises(ProductServiceUnavailable):
        await client.get_product(SKUS[4])
    assert time.monotonic() - started < 1.5
    assert stub.count("/get_product") == 3


async def test_unreachable_service_answers_503_quickly(product_client: ProductClientFactory) -> None:
    nobody = httpx.AsyncHTTPTransport()
    client = product_client(nobody)
    client.http.base_url = httpx.URL(f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(ProductServiceUnavailable) as raised:
        await client.get_products(SKUS[:3])
    assert "unreachable" in raised.value.detail
    assert time.monotonic() - started < 2


async def test_a_failure_is_shared_with_callers_waiting_for_the_same_sku(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub(latency_ms=100)
    stub.fail_next = [500, 500, 500]
    a, b = product_client(stub), product_client(stub)
    results = await asyncio.gather(*(c.get_product(SKUS[6]) for c in (a, b, a, b)), return_exceptions=True)
    assert all(isinstance(r, ProductServiceUnavailable) for r in results)
    assert stub.count("/get_product") == 3


async def test_wrong_token_is_a_503_and_not_retried(
    product_stub: ProductStubFactory, product_client: ProductClientFactory
) -> None:
    stub = await product_stub()
    with pytest.raises(ProductServiceUnavailable):
        await product_client(stub, token="wrong").get_product(SKUS[0])
    assert stub.count("/get_product") == 1


async def test_rate_limiter_refuses_a_slot_beyond_the_longest_wait(redis: Redis, redis_prefix: str) -> None:
    limiter = SharedRateLimiter(redis, f"{redis_prefix}r", rate=1, burst=1, max_wait=0.5)
    assert await limiter.reserve() == 0
    with pytest.raises(RateLimitExceeded) as raised:
        await limiter.reserve()
    assert 0.5 < raised.value.retry_after <= 1.0


async def test_rate_limiter_lets_a_burst_through_then_spaces_requests(redis: Redis, redis_prefix: str) -> None:
    limiter = SharedRateLimiter(redis, f"{redis_prefix}r", rate=10, burst=3)
    waits = [await limiter.reserve() for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert 0.05 < waits[3] <= 0.1 and 0.15 < waits[4] <= 0.2

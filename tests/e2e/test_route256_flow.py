"""The route256 way of buying, end to end through real processes: add -> list -> purchase ->
`awaiting payment` -> pay -> `paid`, stock moving in LOMS at each step; cancel releases it;
concurrent checkouts make one order; a slow, rate-limited ProductService is respected and a
stopped one answers a clear 503."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from shopcommon.testing.plugin import Stack

from .conftest import System, start_system


async def login(system: System, username: str) -> dict[str, Any]:
    """Log in as a demo user; the bearer headers and the user's id."""
    async with system.client("checkout") as client:
        r = await client.post("/api/v1/auth/token", json={"username": username, "password": "1"})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        me = await client.get("/api/v1/users/me", headers=headers)
        assert me.status_code == 200, me.text
        return {"headers": headers, "id": me.json()["id"]}


async def available(system: System, sku: int) -> int:
    async with system.client("loms") as client:
        r = await client.get(f"/api/v1/stocks/{sku}")
        assert r.status_code == 200, r.text
        return sum(s["count"] for s in r.json()["stocks"])


async def skus_in_stock(system: System, at_least: int, how_many: int) -> list[int]:
    """Skus that can be bought now in at least `at_least` units, via checkout's public catalogue."""
    found: list[int] = []
    cursor = None
    async with system.client("checkout") as client:
        while len(found) < how_many:
            params: dict[str, Any] = {"limit": 100, "in_stock": "true", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/products", params=params)).json()
            found += [p["sku"] for p in page["items"] if p["quantity_in_stock"] >= at_least]
            cursor = page["next_cursor"]
            assert cursor or len(found) >= how_many, "not enough stock in the demo data"
    return found[:how_many]


async def fill_cart(client: httpx.AsyncClient, user: dict[str, Any], lines: dict[int, int]) -> None:
    for sku, count in lines.items():
        r = await client.post(
            "/addToCart", json={"user": user["id"], "sku": sku, "count": count}, headers=user["headers"]
        )
        assert r.status_code == 200, r.text


async def test_add_list_purchase_pay_moves_the_stock(system: System) -> None:
    user = await login(system, "customer")
    a, b = await skus_in_stock(system, at_least=10, how_many=2)
    before = {a: await available(system, a), b: await available(system, b)}
    async with system.client("checkout") as client, system.client("product-stub") as products:
        await fill_cart(client, user, {a: 2, b: 1})
        await fill_cart(client, user, {a: 1})
        listed = (await client.post("/listCart", json={"user": user["id"]}, headers=user["headers"])).json()
        truth = {s: (await products.get(f"/api/v1/products/{s}")).json() for s in (a, b)}
        assert listed["items"] == [
            {"sku": s, "count": c, "name": truth[s]["name"], "price": truth[s]["price"]}
            for s, c in sorted({a: 3, b: 1}.items())
        ]
        assert listed["totalPrice"] == 3 * truth[a]["price"] + truth[b]["price"]

        bought = await client.post("/purchase", json={"user": user["id"]}, headers=user["headers"])
        assert bought.status_code == 200, bought.text
        order_id = bought.json()["orderID"]
        assert bought.json()["status"] == "awaiting payment"
        assert (await client.post("/listCart", json={"user": user["id"]}, headers=user["headers"])).json()[
            "items"
        ] == []

        order = (await client.get(f"/api/v1/orders/{order_id}", headers=user["headers"])).json()
        assert order["status"] == "awaiting payment"
        assert {(i["sku"], i["count"], i["price"]) for i in order["items"]} == {
            (a, 3, truth[a]["price"]),
            (b, 1, truth[b]["price"]),
        }
        assert {s: await available(system, s) for s in (a, b)} == {a: before[a] - 3, b: before[b] - 1}

        paid = await client.post(f"/api/v1/orders/{order_id}/pay", headers=user["headers"])
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
        # Paid units are written off: they stay gone.
        assert {s: await available(system, s) for s in (a, b)} == {a: before[a] - 3, b: before[b] - 1}


async def test_cancel_before_payment_releases_the_stock(system: System) -> None:
    user = await login(system, "mike")
    (sku,) = await skus_in_stock(system, at_least=5, how_many=1)
    before = await available(system, sku)
    async with system.client("checkout") as client:
        r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": 2}, headers=user["headers"])
        assert r.status_code == 200, r.text
        checkout = await client.post("/api/v1/cart/checkout", headers=user["headers"])
        assert checkout.status_code == 201, checkout.text
        order_id = checkout.json()["order_id"]
        assert await available(system, sku) == before - 2
        cancelled = await client.post(f"/api/v1/orders/{order_id}/cancel", headers=user["headers"])
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert await available(system, sku) == before
        again = await client.post(f"/api/v1/orders/{order_id}/pay", headers=user["headers"])
        assert again.status_code == 409


async def test_adding_more_than_the_stock_is_a_409_naming_what_is_available(system: System) -> None:
    user = await login(system, "josh")
    (sku,) = await skus_in_stock(system, at_least=1, how_many=1)
    stock = await available(system, sku)
    async with system.client("checkout") as client:
        r = await client.post(
            "/api/v1/cart/items", json={"sku": sku, "count": min(stock + 1, 65535)}, headers=user["headers"]
        )
        assert r.status_code == 409
        assert r.json()["sku"] == sku and r.json()["available"] == stock


async def test_concurrent_checkouts_of_one_cart_make_one_order(system: System) -> None:
    user = await login(system, "josh")
    sku, other = await skus_in_stock(system, at_least=5, how_many=2)
    async with system.client("checkout") as client:
        orders_before = await client.get("/api/v1/orders", params={"limit": 200}, headers=user["headers"])
        await fill_cart(client, user, {sku: 1, other: 2})
        answers = await asyncio.gather(
            *(client.post("/api/v1/cart/checkout", headers=user["headers"]) for _ in range(6))
        )
        made = {r.json()["order_id"] for r in answers if r.status_code == 201}
        assert len(made) == 1, [r.text for r in answers]
        assert all(r.status_code == 201 or r.json()["type"].endswith("/cart-empty") for r in answers)
        orders_after = await client.get("/api/v1/orders", params={"limit": 200}, headers=user["headers"])
        assert len(orders_after.json()["items"]) == len(orders_before.json()["items"]) + 1


# --- a slow, rate-limited ProductService --------------------------------------------------------
SLOW_ENV = {"PRODUCT_LATENCY_MS": "150", "PRODUCT_RATE_LIMIT_RPS": "10", "CHECKOUT_SHOPPING_REDIS_PREFIX": "slow:"}


@pytest.fixture(scope="module")
def slow_system(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    sys_ = start_system(shop_stack, tmp_path_factory.mktemp("slow-system"), SLOW_ENV)
    try:
        yield sys_
    finally:
        for proc in reversed(list(sys_.services.values())):
            proc.stop()


async def forget_products(system: System, skus: list[int]) -> None:
    """Drop the slow system's cached products, so listing must ask ProductService again."""
    client = aioredis.Redis.from_url(system.stack.urls.redis_url)
    await client.delete(*[f"slow:product:{s}" for s in skus])
    await client.aclose()


async def refused_get_products(system: System) -> int:
    """How many `/get_product` calls product-stub refused with 429 (from its Prometheus metrics)."""
    async with system.client("product-stub") as client:
        text = (await client.get("/metrics")).text
    hits = re.findall(r'http_requests_total\{[^}]*route="/get_product"[^}]*status="429"[^}]*\} ([\d.]+)', text)
    return int(sum(float(h) for h in hits))


async def test_listing_20_items_keeps_to_the_rate_limit_and_is_correct(slow_system: System) -> None:
    user = await login(slow_system, "customer")
    skus = await skus_in_stock(slow_system, at_least=2, how_many=20)
    async with slow_system.client("checkout") as client, slow_system.client("product-stub") as products:
        await fill_cart(client, user, dict.fromkeys(skus, 1))
        await forget_products(slow_system, skus)  # adding cached them: the listing must fetch all 20
        started = time.monotonic()
        r = await client.post("/listCart", json={"user": user["id"]}, headers=user["headers"])
        elapsed = time.monotonic() - started
        assert r.status_code == 200, r.text
        truth = {
            p["sku"]: p
            for p in (
                await products.get("/api/v1/products", params=[("sku", s) for s in skus] + [("limit", 50)])
            ).json()["items"]
        }
    items = r.json()["items"]
    assert [(i["sku"], i["name"], i["price"]) for i in items] == [
        (s, truth[s]["name"], truth[s]["price"]) for s in sorted(skus)
    ]
    assert r.json()["totalPrice"] == sum(truth[s]["price"] for s in skus)
    assert elapsed >= 1.8, "20 fetches at 10/s cannot take under 1.9 s"
    assert await refused_get_products(slow_system) == 0


async def test_with_product_service_stopped_listing_is_a_clear_503(slow_system: System) -> None:
    user = await login(slow_system, "mike")
    (sku,) = await skus_in_stock(slow_system, at_least=1, how_many=1)
    async with slow_system.client("checkout") as client:
        await fill_cart(client, user, {sku: 1})
        slow_system.services["product-stub"].stop()
        try:
            await forget_products(slow_system, [sku])
            started = time.monotonic()
            r = await client.post("/listCart", json={"user": user["id"]}, headers=user["headers"])
            assert time.monotonic() - started < 10
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert "ProductService" in r.json()["title"]
            catalogue = await client.get("/api/v1/products")
            assert catalogue.status_code == 503
        finally:
            slow_system.services["product-stub"].proc.start()
            slow_system.services["product-stub"].wait_ready()

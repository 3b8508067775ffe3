"""Listing carts (live names and prices), who may touch which cart, and what bad input gets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from product_stub.demo import demo_products
from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, ProductStubFactory

PRODUCTS = demo_products()
BY_SKU = {p.sku: p for p in PRODUCTS}
SKUS = sorted(BY_SKU)
Seed = Callable[[int, dict[int, int]], Awaitable[None]]


async def test_list_cart_fills_in_names_and_prices_and_totals(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(101, {SKUS[0]: 2, SKUS[1]: 1})
    client = await checkout(product=await product_stub())
    r = await client.post("/listCart", json={"user": 101}, headers=test_issuer.auth(101, "customer"))
    assert r.status_code == 200, r.text
    a, b = BY_SKU[SKUS[0]], BY_SKU[SKUS[1]]
    assert r.json() == {
        "items": [
            {"sku": a.sku, "count": 2, "name": a.name, "price": a.price},
            {"sku": b.sku, "count": 1, "name": b.name, "price": b.price},
        ],
        "totalPrice": 2 * a.price + b.price,
    }


async def test_rest_cart_has_the_same_lines_with_total_price(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(102, {SKUS[2]: 3})
    client = await checkout(product=await product_stub())
    r = await client.get("/api/v1/cart", headers=test_issuer.auth(102, "customer"))
    p = BY_SKU[SKUS[2]]
    assert r.json() == {
        "items": [{"sku": p.sku, "count": 3, "name": p.name, "price": p.price}],
        "total_price": 3 * p.price,
    }


async def test_empty_cart_lists_no_items_and_zero_total(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, test_issuer: TestIssuer
) -> None:
    client = await checkout(product=await product_stub())
    r = await client.post("/listCart", json={"user": 103}, headers=test_issuer.auth(103, "customer"))
    assert r.json() == {"items": [], "totalPrice": 0}


async def test_listing_a_20_item_cart_makes_one_request_per_sku_then_none(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(104, {sku: 1 for sku in SKUS[:20]})
    stub = await product_stub(latency_ms=20)
    client = await checkout(product=stub)
    for _ in range(3):
        r = await client.post("/listCart", json={"user": 104}, headers=test_issuer.auth(104, "customer"))
        assert len(r.json()["items"]) == 20
    assert stub.count("/get_product") == 20


async def test_listing_while_product_service_is_down_is_a_503_problem(
    checkout: CheckoutFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(105, {SKUS[3]: 1})
    client = await checkout()  # no ProductService: a closed port
    r = await client.post("/listCart", json={"user": 105}, headers=test_issuer.auth(105, "customer"))
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/product-service-unavailable")
    assert "Retry-After" in r.headers


async def test_staff_may_list_anyones_cart(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(106, {SKUS[4]: 1})
    client = await checkout(product=await product_stub())
    for who in (test_issuer.auth(1, "manager"), test_issuer.auth("a-client", "service", scope="orders:write")):
        r = await client.post("/listCart", json={"user": 106}, headers=who)
        assert r.status_code == 200 and len(r.json()["items"]) == 1
    users_reader = test_issuer.auth("loms", "service")  # granted users:read only
    assert (await client.post("/listCart", json={"user": 106}, headers=users_reader)).status_code == 403


async def test_customer_may_not_name_another_user(checkout: CheckoutFactory, test_issuer: TestIssuer) -> None:
    client = await checkout()
    mine = test_issuer.auth(107, "customer")
    for path, body in [
        ("/listCart", {"user": 108}),
        ("/purchase", {"user": 108}),
        ("/addToCart", {"user": 108, "sku": SKUS[0], "count": 1}),
        ("/deleteFromCart", {"user": 108, "sku": SKUS[0], "count": 1}),
    ]:
        r = await client.post(path, json=body, headers=mine)
        assert r.status_code == 403, path


async def test_cart_endpoints_need_a_bearer_token(checkout: CheckoutFactory) -> None:
    client = await checkout()
    assert (await client.post("/listCart", json={"user": 1})).status_code == 401
    assert (await client.get("/api/v1/cart")).status_code == 401
    assert (await client.post("/api/v1/cart/checkout")).status_code == 401


async def test_bad_skus_and_counts_are_422_naming_the_field(checkout: CheckoutFactory, test_issuer: TestIssuer) -> None:
    client = await checkout()
    auth = test_issuer.auth(109, "customer")
    for body, field in [
        ({"user": 109, "sku": 0, "count": 1}, "sku"),
        ({"user": 109, "sku": 2**32, "count": 1}, "sku"),
        ({"user": 109, "sku": 1, "count": 0}, "count"),
        ({"user": 109, "sku": 1, "count": 65536}, "count"),
        ({"user": 109, "sku": 1}, "count"),
        ({"user": "x", "sku": 1, "count": 1}, "user"),
    ]:
        r = await client.post("/addToCart", json=body, headers=auth)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"] == field
    r = await client.post("/api/v1/cart/items", json={"sku": 1, "count": -1}, headers=auth)
    assert r.status_code == 422
    r = await client.delete("/api/v1/cart/items/1?count=0", headers=auth)
    assert r.status_code == 422


async def test_malformed_json_is_400(checkout: CheckoutFactory, test_issuer: TestIssuer) -> None:
    client = await checkout()
    r = await client.post(
        "/listCart", content=b"{nope", headers={**test_issuer.auth(110, "customer"), "content-type": "application/json"}
    )
    assert r.status_code == 400


async def test_service_token_cannot_use_the_rest_cart(checkout: CheckoutFactory, test_issuer: TestIssuer) -> None:
    client = await checkout()
    r = await client.get("/api/v1/cart", headers=test_issuer.auth("loms", "service"))
    assert r.status_code == 403


async def test_removing_units_leaves_the_rest_and_removing_more_drops_the_line(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(111, {SKUS[5]: 5, SKUS[6]: 1})
    client = await checkout(product=await product_stub())
    auth = test_issuer.auth(111, "customer")
    r = await client.post("/deleteFromCart", json={"user": 111, "sku": SKUS[5], "count": 2}, headers=auth)
    assert r.status_code == 200 and r.json() == {}
    r = await client.delete(f"/api/v1/cart/items/{SKUS[6]}?count=9", headers=auth)
    assert r.json() == {"sku": SKUS[6], "count": 0}
    listed = await client.post("/listCart", json={"user": 111}, headers=auth)
    assert [(i["sku"], i["count"]) for i in listed.json()["items"]] == [(SKUS[5], 3)]


async def test_removing_without_a_count_drops_the_whole_line(
    checkout: CheckoutFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    await seed_cart(112, {SKUS[7]: 4})
    client = await checkout()
    auth = test_issuer.auth(112, "customer")
    assert (await client.delete(f"/api/v1/cart/items/{SKUS[7]}", headers=auth)).json() == {"sku": SKUS[7], "count": 0}
    again = await client.delete(f"/api/v1/cart/items/{SKUS[7]}", headers=auth)
    assert again.status_code == 404
    assert again.json()["type"].endswith("/not-in-cart")


async def test_adding_an_sku_unknown_to_product_service_is_404(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, test_issuer: TestIssuer
) -> None:
    client = await checkout(product=await product_stub())
    r = await client.post(
        "/addToCart", json={"user": 113, "sku": 7, "count": 1}, headers=test_issuer.auth(113, "customer")
    )
    assert r.status_code == 404
    assert r.json()["sku"] == 7


async def test_adding_while_loms_is_down_is_a_503_and_changes_nothing(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, test_issuer: TestIssuer
) -> None:
    client = await checkout(product=await product_stub())  # no LOMS: a closed port
    auth = test_issuer.auth(114, "customer")
    r = await client.post("/api/v1/cart/items", json={"sku": SKUS[0], "count": 1}, headers=auth)
    assert r.status_code == 503
    assert r.json()["type"].endswith("/loms-unavailable")
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"] == []


async def test_listing_while_redis_is_down_is_a_503_problem(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    from shopcommon.devstack.servers import free_port

    await seed_cart(115, {SKUS[8]: 1})
    client = await checkout(product=await product_stub(), redis_url=f"redis://127.0.0.1:{free_port()}/0")
    r = await client.post("/listCart", json={"user": 115}, headers=test_issuer.auth(115, "customer"))
    assert r.status_code == 503
    assert r.json()["type"].endswith("/redis-unavailable")


async def test_a_cart_change_shows_at_once_though_listings_are_reused(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, seed_cart: Seed, test_issuer: TestIssuer
) -> None:
    """Listings are composed once per cart version: a change makes a new version, listed afresh."""
    await seed_cart(116, {SKUS[9]: 3, SKUS[10]: 1})
    client = await checkout(product=await product_stub(), listing_max_age=1.0)
    auth = test_issuer.auth(116, "customer")
    first = await client.get("/api/v1/cart", headers=auth)
    assert [(i["sku"], i["count"]) for i in first.json()["items"]] == [(SKUS[9], 3), (SKUS[10], 1)]
    assert (await client.delete(f"/api/v1/cart/items/{SKUS[9]}?count=1", headers=auth)).status_code == 200
    rest = await client.get("/api/v1/cart", headers=auth)
    rpc = await client.post("/listCart", json={"user": 116}, headers=auth)
    assert [(i["sku"], i["count"]) for i in rest.json()["items"]] == [(SKUS[9], 2), (SKUS[10], 1)]
    assert rpc.json()["items"] == rest.json()["items"]
    assert rest.json()["total_price"] == rpc.json()["totalPrice"] == 2 * BY_SKU[SKUS[9]].price + BY_SKU[SKUS[10]].price

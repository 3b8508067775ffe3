"""The route256 ProductService endpoints, field for field."""

import httpx

from product_stub.config import Settings
from product_stub.demo import demo_products
from shopcommon.testing.tokens import TestIssuer

from .conftest import asgi_client, make_settings

PRODUCTS = demo_products()


async def test_get_product_returns_name_and_price(client: httpx.AsyncClient) -> None:
    p = PRODUCTS[0]
    r = await client.post("/get_product", json={"token": "testtoken", "sku": p.sku})
    assert r.status_code == 200
    assert r.json() == {"name": p.name, "price": p.price}


async def test_get_product_with_wrong_token_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.post("/get_product", json={"token": "nope", "sku": PRODUCTS[0].sku})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 401


async def test_get_product_of_unknown_sku_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/get_product", json={"token": "testtoken", "sku": 7})
    assert r.status_code == 404
    assert "7" in r.json()["detail"]


async def test_get_product_rejects_skus_outside_uint32(client: httpx.AsyncClient) -> None:
    for sku in (0, -1, 2**32, "abc", 1.5):
        r = await client.post("/get_product", json={"token": "testtoken", "sku": sku})
        assert r.status_code == 422, sku
        assert r.json()["errors"][0]["field"] == "sku"


async def test_list_skus_pages_in_ascending_order(client: httpx.AsyncClient) -> None:
    all_skus = sorted(p.sku for p in PRODUCTS)
    r = await client.post("/list_skus", json={"token": "testtoken", "startAfterSku": 0, "count": 5})
    assert r.json() == {"skus": all_skus[:5]}
    r = await client.post("/list_skus", json={"token": "testtoken", "startAfterSku": all_skus[4], "count": 3})
    assert r.json() == {"skus": all_skus[5:8]}
    r = await client.post("/list_skus", json={"token": "testtoken", "startAfterSku": all_skus[-1], "count": 3})
    assert r.json() == {"skus": []}


async def test_list_skus_with_wrong_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post("/list_skus", json={"token": "", "startAfterSku": 0, "count": 5})
    assert r.status_code == 401


async def test_rate_limit_answers_429_with_retry_after(product_db: str, test_issuer: TestIssuer) -> None:
    settings: Settings = make_settings(product_db, test_issuer, rate_limit_rps=2)
    async for c in asgi_client(settings):
        codes = [
            (await c.post("/get_product", json={"token": "testtoken", "sku": PRODUCTS[1].sku})).status_code
            for _ in range(6)
        ]
        assert codes[:2] == [200, 200]
        assert 429 in codes
        limited = await c.post("/get_product", json={"token": "testtoken", "sku": PRODUCTS[1].sku})
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1


async def test_configured_latency_slows_the_rpc(product_db: str, test_issuer: TestIssuer) -> None:
    import time

    async for c in asgi_client(make_settings(product_db, test_issuer, latency_ms=150)):
        started = time.perf_counter()
        r = await c.post("/get_product", json={"token": "testtoken", "sku": PRODUCTS[2].sku})
        assert r.status_code == 200
        assert time.perf_counter() - started >= 0.15

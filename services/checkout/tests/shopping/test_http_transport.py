"""The aiohttp-backed httpx transport, over real TCP to the real product-stub app under uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from checkout.shopping.http_transport import AiohttpTransport
from product_stub.config import Settings as ProductSettings
from product_stub.demo import demo_products
from product_stub.main import create_app as create_product_app
from shopcommon.devstack.servers import free_port
from shopcommon.testing.tokens import TestIssuer

SKU = demo_products()[0]
Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve_product_stub(product_db: str, test_issuer: TestIssuer) -> AsyncIterator[Serve]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def serve(**overrides: Any) -> str:
        settings = ProductSettings(
            database_url=product_db,
            jwt_jwks_file=str(test_issuer.jwks_path),
            app_env="dev",
            log_json=False,
            **overrides,
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_product_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, task in servers:
        server.should_exit = True
        await task


async def test_gets_and_posts_round_trip_with_status_headers_and_body(serve_product_stub: Serve) -> None:
    url = await serve_product_stub()
    async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport()) as client:
        page = await client.get("/api/v1/products", params=[("limit", 3)])
        assert page.status_code == 200 and len(page.json()["items"]) == 3
        found = await client.post("/get_product", json={"token": "testtoken", "sku": SKU.sku})
        assert found.json() == {"name": SKU.name, "price": SKU.price}
        missing = await client.post("/get_product", json={"token": "testtoken", "sku": 7})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_a_slow_answer_raises_httpx_timeout(serve_product_stub: Serve) -> None:
    url = await serve_product_stub(latency_ms=1000)
    async with httpx.AsyncClient(base_url=url, transport=AiohttpTransport(), timeout=0.2) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.post("/get_product", json={"token": "testtoken", "sku": SKU.sku})


async def test_a_closed_port_raises_httpx_connect_error() -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", transport=AiohttpTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/anything")

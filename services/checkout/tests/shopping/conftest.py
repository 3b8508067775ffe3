"""Shopping tests run checkout in-process against the real product-stub app (in-process, over an
ASGI transport), the real LOMS app likewise, and the session's real Postgres and Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from checkout.shopping.product_client import ProductClient, ProductClientConfig
from checkout.shopping.ratelimit import SharedRateLimiter
from product_stub.config import Settings as ProductSettings
from product_stub.demo import load_demo_data as load_products
from product_stub.main import create_app as create_product_app
from shopcommon.devstack.servers import free_port
from shopcommon.redis import make_redis
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that reach the wrapped app, and can fail the first few on purpose (or
    every request to the paths in `refuse`), or hold requests to the paths in `slow` that long."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.fail_next: list[int] = []
        self.refuse: set[str] = set()
        self.slow: dict[str, float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.fail_next or request.url.path in self.refuse:
            status = self.fail_next.pop(0) if self.fail_next else 503
            return httpx.Response(status, json={"title": "injected", "status": status, "detail": "injected"})
        await asyncio.sleep(self.slow.get(request.url.path, 0.0))
        return await self.inner.handle_async_request(request)

    def count(self, path: str) -> int:
        return sum(1 for p in self.calls if p == path)


@pytest.fixture(scope="module")
async def product_db(shop_stack: Stack, module_label: str) -> str:
    url = shop_stack.fresh_database("product-stub", module_label)
    await load_products(url)
    return url


@asynccontextmanager
async def running_app(app: Any, client_address: str = "127.0.0.1") -> AsyncIterator[httpx.ASGITransport]:
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(client_address, 123))


ProductStubFactory = Callable[..., Awaitable[CountingTransport]]


@pytest.fixture
async def product_stub(product_db: str, test_issuer: TestIssuer) -> AsyncIterator[ProductStubFactory]:
    """Start product-stub in-process with the given settings (latency_ms, rate_limit_rps, ...)."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> CountingTransport:
            settings = ProductSettings(
                database_url=product_db,
                jwt_jwks_file=str(test_issuer.jwks_path),
                app_env="dev",
                log_json=False,
                **overrides,
            )
            transport = await stack.enter_async_context(running_app(create_product_app(settings)))
            return CountingTransport(transport)

        yield start


@pytest.fixture
async def redis(shop_stack: Stack) -> AsyncIterator[Redis]:
    client = make_redis(shop_stack.urls.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    """Each test its own keys, so caches and rate limits never leak between tests."""
    return f"t-{uuid.uuid4().hex[:10]}:"


ProductClientFactory = Callable[..., ProductClient]


@pytest.fixture
async def product_client(redis: Redis, redis_prefix: str) -> AsyncIterator[ProductClientFactory]:
    """Build ProductClients over a transport; clients built in one test share the Redis prefix,
    as replicas of one deployment do."""
    https: list[httpx.AsyncClient] = []
    clients: list[ProductClient] = []

    def build(
        transport: httpx.AsyncBaseTransport,
        *,
        rate: float = 1000.0,
        burst: int = 1,
        max_wait: float = 10.0,
        **config: Any,
    ) -> ProductClient:
        http = httpx.AsyncClient(transport=transport, base_url="http://product-stub")
        https.append(http)
        limiter = SharedRateLimiter(redis, f"{redis_prefix}product-rate", rate=rate, burst=burst, max_wait=max_wait)
        # The per-sku machinery is tested apart from the sku listing unless a test turns it on.
        settings = {"token": "testtoken", "prefix": redis_prefix, "backoff": 0.01, "known_skus_max_age": 0, **config}
        clients.append(ProductClient(http, redis, limiter, ProductClientConfig(**settings)))
        return clients[-1]

    yield build
    for client in clients:
        await client.aclose()
    for http in https:
        await http.aclose()


# --- checkout itself, in-process ---------------------------------------------------------------
@pytest.fixture(scope="session")
def checkout_keys(tmp_path_factory: pytest.TempPathFactory, test_issuer: TestIssuer) -> tuple[str, str]:
    """Checkout's signing-key directory, and a JWKS file trusting both it and the test issuer
    (what LOMS needs to accept checkout's service tokens and the tests' caller tokens alike)."""
    from checkout.identity.keys import KeyStore

    keys_dir = tmp_path_factory.mktemp("checkout-keys")
    KeyStore.generate_key(keys_dir)
    store = KeyStore(keys_dir, issuer="shop-checkout", audience="shop")
    jwks = tmp_path_factory.mktemp("jwks") / "both.json"
    jwks.write_text(json.dumps({"keys": store.jwks()["keys"] + test_issuer.jwks["keys"]}))
    return str(keys_dir), str(jwks)


@pytest.fixture(scope="module")
def checkout_db(shop_stack: Stack, module_label: str) -> str:
    return shop_stack.fresh_database("checkout", module_label)


CheckoutFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def checkout(
    checkout_db: str, shop_stack: Stack, test_issuer: TestIssuer, checkout_keys: tuple[str, str], redis_prefix: str
) -> AsyncIterator[CheckoutFactory]:
    """Start checkout in-process: `await checkout(product=transport, loms=transport, **settings)`.
    A service left out is unreachable (a closed port). Checkouts started in one test share Redis
    keys, as replicas do; `client_address` is the peer address its requests come from."""
    from checkout.config import Settings
    from checkout.main import create_app

    async with AsyncExitStack() as stack:

        async def start(
            *,
            product: httpx.AsyncBaseTransport | None = None,
            loms: httpx.AsyncBaseTransport | None = None,
            client_address: str = "127.0.0.1",
            **overrides: Any,
        ) -> httpx.AsyncClient:
            nowhere = f"http://127.0.0.1:{free_port()}"
            values: dict[str, Any] = {
                "database_url": checkout_db,
                "redis_url": shop_stack.urls.redis_url,
                "app_env": "dev",
                "log_json": False,
                "jwt_jwks_file": str(test_issuer.jwks_path),
                "jwt_keys_dir": checkout_keys[0],
                "product_stub_url": "http://product-stub" if product else nowhere,
                "loms_url": "http://loms" if loms else nowhere,
                "shopping_redis_prefix": redis_prefix,
                "product_backoff": 0.01,
                "product_rate_limit_rps": 1000,
                **overrides,
            }
            app = create_app(Settings(**values))
            app.state.shopping_transports = {k: v for k, v in (("product", product), ("loms", loms)) if v}
            transport = await stack.enter_async_context(running_app(app, client_address))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://checkout", timeout=30)
            )

        yield start


@pytest.fixture
def seed_cart(checkout_db: str) -> Callable[[int, dict[int, int]], Awaitable[None]]:
    """Put lines straight into a cart (for tests of listing that are not about adding)."""
    from checkout.shopping import queries as cart_store
    from shopcommon.db import make_engine, make_sessionmaker, transaction

    async def seed(user_id: int, lines: dict[int, int]) -> None:
        engine = make_engine(checkout_db, pool_size=1, max_overflow=0)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                await cart_store.touch_cart(session, user_id=user_id)
                for sku, count in lines.items():
                    await cart_store.add_to_line(session, user_id=user_id, sku=sku, count=count, limit=65535)
        finally:
            await engine.dispose()

    return seed


# --- LOMS, in-process, with its demo stock ------------------------------------------------------
@pytest.fixture(scope="module")
async def loms_db(shop_stack: Stack, module_label: str) -> str:
    from shopcommon.services import service_spec

    url = shop_stack.fresh_database("loms", module_label)
    loader = service_spec("loms").load_demo_data()
    if loader is not None:
        await loader(url, {"APP_ENV": "dev"})
    return url


@pytest.fixture(scope="module")
async def loms(loms_db: str, shop_stack: Stack, checkout_keys: tuple[str, str]) -> AsyncIterator[CountingTransport]:
    """The real LOMS app; it trusts checkout's keys and the test issuer's."""
    from loms.config import Settings as LomsSettings
    from loms.main import create_app as create_loms_app

    settings = LomsSettings(
        database_url=loms_db,
        redis_url=shop_stack.urls.redis_url,
        app_env="dev",
        log_json=False,
        kafka_bootstrap_servers=shop_stack.urls.kafka_bootstrap_servers,
        jwt_jwks_file=checkout_keys[1],
    )
    async with running_app(create_loms_app(settings)) as transport:
        yield CountingTransport(transport)


async def available(loms: httpx.AsyncBaseTransport, sku: int) -> int:
    async with httpx.AsyncClient(transport=loms, base_url="http://loms") as client:
        r = await client.get(f"/api/v1/stocks/{sku}")
        assert r.status_code == 200, r.text
        return sum(s["count"] for s in r.json()["stocks"])


class StockBook:
    """The demo skus by what can be bought of them; each handed out once, so tests sharing one
    LOMS database never buy from each other's skus."""

    def __init__(self, levels: dict[int, int]) -> None:
        self.levels = levels
        self.taken: set[int] = set()

    def take(self, *, at_least: int = 1, at_most: int | None = None) -> int:
        for sku, level in sorted(self.levels.items()):
            if sku not in self.taken and level >= at_least and (at_most is None or level <= at_most):
                self.taken.add(sku)
                return sku
        raise LookupError(f"no demo sku left with {at_least}..{at_most} available")


@pytest.fixture(scope="module")
async def stock_book(loms: CountingTransport) -> StockBook:
    from product_stub.demo import demo_products

    skus = sorted(p.sku for p in demo_products())
    levels: dict[int, int] = {}
    async with httpx.AsyncClient(transport=loms, base_url="http://loms") as client:
        for start in range(0, len(skus), 200):
            r = await client.get("/api/v1/stocks", params=[("sku", s) for s in skus[start : start + 200]])
            assert r.status_code == 200, r.text
            levels.update({item["sku"]: item["total_available"] for item in r.json()["items"]})
    return StockBook(levels)

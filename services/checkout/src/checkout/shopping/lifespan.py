"""The shopping domain's resources: HTTP clients for product-stub and LOMS, the ProductService
client with its shared rate limit, all on the app's Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.shopping.catalogue_source import CatalogueSource
from checkout.shopping.http_transport import AiohttpTransport
from checkout.shopping.loms_client import LomsClient
from checkout.shopping.page_cache import PageCache
from checkout.shopping.product_client import ProductClient, ProductClientConfig
from checkout.shopping.queries import cart_read_pool
from checkout.shopping.ratelimit import SharedRateLimiter
from checkout.shopping.settings import ShoppingSettings
from shopcommon.http import make_http_client

#: Service tokens are minted for 5 minutes and reused for 4.
SERVICE_TOKEN_TTL = 300
SERVICE_TOKEN_REUSE = 240


def http_client(base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A peer's client over aiohttp's pool (`http_transport`), unless a test hands in a transport."""
    return make_http_client(base_url, timeout=timeout, transport=transport or AiohttpTransport(max_connections=200))


def service_token_source(app: FastAPI) -> Callable[[], str]:
    """Checkout's own `service` token, minted by its key store and reused until near expiry."""
    cached: dict[str, Any] = {"token": "", "until": 0.0}

    def token() -> str:
        if time.monotonic() >= cached["until"]:
            cached["token"] = app.state.key_store.service_token(ttl=SERVICE_TOKEN_TTL)
            cached["until"] = time.monotonic() + SERVICE_TOKEN_REUSE
        return str(cached["token"])

    return token


def product_client(settings: ShoppingSettings, http: httpx.AsyncClient, redis: Any) -> ProductClient:
    limiter = SharedRateLimiter(
        redis,
        f"{settings.shopping_redis_prefix}product-rate",
        rate=settings.product_rate_limit_rps,
        burst=settings.product_rate_limit_burst,
        max_wait=settings.product_rate_limit_max_wait,
    )
    config = ProductClientConfig(
        token=settings.product_token,
        cache_ttl=settings.product_cache_ttl,
        refresh_after=settings.product_cache_refresh_after,
        missing_ttl=settings.product_missing_ttl,
        known_skus_max_age=settings.product_known_skus_max_age,
        list_page=settings.product_list_page,
        lookup_quota=settings.product_lookup_quota,
        tries=settings.product_tries,
        timeout=settings.product_timeout,
        backoff=settings.product_backoff,
        backoff_max=settings.product_backoff_max,
        concurrency=settings.product_concurrency,
        prefix=settings.shopping_redis_prefix,
    )
    return ProductClient(http, redis, limiter, config)


@dataclass(frozen=True)
class Shopping:
    """Everything shopping needs at request time, built once per process."""

    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    #: A plain asyncpg pool for the hot cart read.
    pg: asyncpg.Pool
    redis: Redis
    products: ProductClient
    loms: LomsClient
    redis_prefix: str
    #: Distinct skus one cart may hold.
    cart_max_lines: int
    #: product-stub's REST API (catalogue pages; public and not rate limited).
    catalogue: CatalogueSource
    #: Composed catalogue answers (products with stock), each at most `listing_max_age` old.
    pages: PageCache[Any]
    #: Composed cart listings by user and cart version, each at most `listing_max_age` old.
    cart_views: PageCache[Any]


@asynccontextmanager
async def shopping_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ShoppingSettings = app.state.settings
    # Tests may hand in transports (e.g. another app in-process) under `app.state.shopping_transports`.
    transports: dict[str, httpx.AsyncBaseTransport] = getattr(app.state, "shopping_transports", {})
    async with AsyncExitStack() as stack:
        product_http = await stack.enter_async_context(
            http_client(settings.product_stub_url, settings.product_timeout, transports.get("product"))
        )
        loms_http = await stack.enter_async_context(
            http_client(settings.loms_url, settings.loms_timeout, transports.get("loms"))
        )
        common = app.state.settings  # the whole service's settings: database URL and pool size
        pg = await cart_read_pool(common.database_url, max_size=common.db_raw_pool_size)
        stack.push_async_callback(pg.close)
        products = product_client(settings, product_http, app.state.redis)
        stack.push_async_callback(products.aclose)
        app.state.shopping = Shopping(
            sessionmaker=app.state.sessionmaker,
            read_sessionmaker=app.state.read_sessionmaker,
            pg=pg,
            redis=app.state.redis,
            products=products,
            loms=LomsClient(
                loms_http, service_token_source(app), timeout=settings.loms_timeout, order_wait=settings.loms_order_wait
            ),
            redis_prefix=settings.shopping_redis_prefix,
            cart_max_lines=settings.cart_max_lines,
            catalogue=CatalogueSource(product_http, ttl=settings.catalogue_cache_ttl),
            pages=PageCache(max_age=settings.listing_max_age),
            cart_views=PageCache(max_age=settings.listing_max_age),
        )
        yield

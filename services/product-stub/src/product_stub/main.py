from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from product_stub.api import rest, rpc
from product_stub.config import Settings
from shopcommon.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.rate_limiter = rpc.RateLimiter(settings.rate_limit_rps)
        yield

    return create_service_app(
        settings,
        title="ProductService (product-stub)",
        description=(
            "The shop's catalogue: the route256 ProductService endpoints (`/get_product`, `/list_skus`) "
            "kept verbatim, and a REST API. Reads are public; managers change the catalogue. Each "
            "operation's `x-roles` names who may call it."
        ),
        routers=[rpc.router, rest.router],
        lifespan=lifespan,
        raw_pool=True,
    )

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from checkout.config import Settings
from checkout.identity.lifespan import identity_lifespan
from checkout.identity.router import router as identity_router
from checkout.shopping.lifespan import shopping_lifespan
from checkout.shopping.router import router as shopping_router
from checkout.web.lifespan import web_lifespan
from checkout.web.missing import install_missing_pages
from checkout.web.renewal import SessionRenewal
from checkout.web.router import router as web_router
from shopcommon.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(identity_lifespan(app))
            await stack.enter_async_context(shopping_lifespan(app))
            await stack.enter_async_context(web_lifespan(app))
            yield

    app = create_service_app(
        settings,
        title="Checkout",
        description=(
            "Identity for the whole shop (users, tokens, one-time codes, JWKS), carts and the public "
            "REST API. Each operation's `x-roles` names who may call it."
        ),
        routers=[identity_router, shopping_router, web_router],
        lifespan=lifespan,
        uses_redis=True,
        middleware=[SessionRenewal],
    )
    install_missing_pages(app)
    return app

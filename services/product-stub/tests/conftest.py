from collections.abc import AsyncIterator

import httpx
import pytest

from product_stub.config import Settings
from product_stub.demo import load_demo_data
from product_stub.main import create_app
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer


@pytest.fixture(scope="module")
async def product_db(shop_stack: Stack, module_label: str) -> str:
    url = shop_stack.fresh_database("product-stub", module_label)
    await load_demo_data(url)
    return url


def make_settings(product_db: str, issuer: TestIssuer, **overrides: object) -> Settings:
    return Settings(
        database_url=product_db, jwt_jwks_file=str(issuer.jwks_path), app_env="dev", log_json=False, **overrides
    )  # type: ignore[arg-type]


async def asgi_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://product-stub"
        ) as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def client(product_db: str, test_issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async for c in asgi_client(make_settings(product_db, test_issuer)):
        yield c

"""Web page tests run checkout in-process against the real bookings app (in-process too, over an
ASGI transport, with its own fresh database) and the session's real Postgres and Redis. The guest's
cancel token is read where the e-mail gets it from: the acknowledging event in bookings' outbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shopcommon.db import plain_url
from shopcommon.devstack.servers import free_port
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer


@asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[httpx.ASGITransport]:
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 123))


class Bookings:
    """The real bookings service, and direct SQL on its database for arranging and checking."""

    def __init__(self, transport: httpx.AsyncBaseTransport, db_url: str, issuer: TestIssuer) -> None:
        self.transport = transport
        self.db_url = plain_url(db_url)
        self.manager = issuer.auth(1, "manager")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url="http://bookings", timeout=30)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.db_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def request(self, *, name: str = "Anna Guest", price: int = 4550) -> tuple[dict[str, Any], str]:
        """A new table and a pending booking of it (tomorrow plus three days, 19:00-21:00 UTC); the
        booking and its cancel token."""
        async with self.client() as client:
            table = await client.post(
                "/api/v1/tables",
                headers=self.manager,
                json={"name": f"Garden {uuid.uuid4().hex[:6]}", "kind": "cabin", "seats": 4, "price": price},
            )
            assert table.status_code == 201, table.text
            start = datetime.now(UTC).replace(hour=19, minute=0, second=0, microsecond=0) + timedelta(days=3)
            booking = await client.post(
                "/api/v1/bookings",
                json={
                    "table_id": table.json()["table_id"],
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=2)).isoformat(),
                    "name": name,
                    "email": "anna@example.com",
                },
            )
            assert booking.status_code == 201, booking.text
        rows = await self.fetch(
            "SELECT payload->>'cancel_url' FROM outbox WHERE key = $1 AND payload->>'status' = 'pending'",
            str(booking.json()["booking_id"]),
        )
        token = rows[0][0].rsplit("/bookings/cancel/", 1)[1]
        return {**booking.json(), "table": table.json()}, token

    async def state(self, booking_id: int) -> tuple[Any, ...]:
        """Everything a cancel could change: the row (status, who, when, the token) and its events."""
        row = (
            await self.fetch(
                "SELECT b.status, b.cancelled_by, b.updated_at, b.cancel_token_hash, "
                "(SELECT count(*) FROM outbox o WHERE o.key = b.id::text) AS events FROM bookings b WHERE b.id = $1",
                booking_id,
            )
        )[0]
        return tuple(row)

    async def get(self, booking_id: int) -> dict[str, Any]:
        async with self.client() as client:
            r = await client.get(f"/api/v1/bookings/{booking_id}", headers=self.manager)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


@pytest.fixture(scope="module")
async def bookings(shop_stack: Stack, module_label: str, test_issuer: TestIssuer) -> AsyncIterator[Bookings]:
    from bookings.config import Settings as BookingsSettings
    from bookings.main import create_app as create_bookings_app

    db_url = shop_stack.fresh_database("bookings", f"web_{module_label}")
    settings = BookingsSettings(
        database_url=db_url,
        redis_url=shop_stack.urls.redis_url,
        kafka_bootstrap_servers=shop_stack.urls.kafka_bootstrap_servers,
        jwt_jwks_file=str(test_issuer.jwks_path),
        app_env="dev",
        log_json=False,
        public_url="http://checkout",
        relay_enabled=False,  # the events stay in the outbox, where the tests read the cancel link
        requests_per_ip=0,  # many guest bookings from 127.0.0.1 in one run; the limits have their own tests
        requests_per_email=0,
    )
    async with running_app(create_bookings_app(settings)) as transport:
        yield Bookings(transport, db_url, test_issuer)


@pytest.fixture(scope="module")
def checkout_db(shop_stack: Stack, module_label: str) -> str:
    return shop_stack.fresh_database("checkout", f"web_{module_label}")


CheckoutFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def checkout(
    checkout_db: str, shop_stack: Stack, test_issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[CheckoutFactory]:
    """Start checkout in-process: `await checkout(bookings=transport, **settings)`. Without a
    transport, bookings is unreachable (a closed port, through checkout's real HTTP stack)."""
    from checkout.config import Settings
    from checkout.main import create_app

    async with AsyncExitStack() as stack:

        async def start(*, bookings: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> httpx.AsyncClient:
            nowhere = f"http://127.0.0.1:{free_port()}"
            values: dict[str, Any] = {
                "database_url": checkout_db,
                "redis_url": shop_stack.urls.redis_url,
                "app_env": "dev",
                "log_json": False,
                "jwt_jwks_file": str(test_issuer.jwks_path),
                "jwt_keys_dir": str(tmp_path_factory.mktemp("checkout-keys")),
                "product_stub_url": nowhere,
                "loms_url": nowhere,
                "bookings_url": "http://bookings" if bookings else nowhere,
                "shopping_redis_prefix": f"t-{uuid.uuid4().hex[:10]}:",
                "identity_redis_prefix": f"t-{uuid.uuid4().hex[:10]}:",
                **overrides,
            }
            app = create_app(Settings(**values))
            if bookings is not None:
                app.state.web_transports = {"bookings": bookings}
            transport = await stack.enter_async_context(running_app(app))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://checkout", timeout=30)
            )

        yield start

"""Web page tests run checkout in-process against the real bookings app (in-process too, over an
ASGI transport, with its own fresh database) and the session's real Postgres and Redis. The guest's
cancel token is read where the e-mail gets it from: the acknowledging event in bookings' outbox."""

from __future__ import annotations

import json
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
async def bookings(
    shop_stack: Stack, module_label: str, test_issuer: TestIssuer, checkout_keys: tuple[str, str]
) -> AsyncIterator[Bookings]:
    from bookings.config import Settings as BookingsSettings
    from bookings.main import create_app as create_bookings_app

    db_url = shop_stack.fresh_database("bookings", f"web_{module_label}")
    settings = BookingsSettings(
        database_url=db_url,
        redis_url=shop_stack.urls.redis_url,
        kafka_bootstrap_servers=shop_stack.urls.kafka_bootstrap_servers,
        jwt_jwks_file=checkout_keys[1],  # a web session's customer is checkout's token
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


@pytest.fixture(scope="session")
def checkout_keys(tmp_path_factory: pytest.TempPathFactory, test_issuer: TestIssuer) -> tuple[str, str]:
    """Checkout's signing-key directory, and a JWKS file trusting both it and the test issuer (what
    LOMS, product-stub and notifications need to take the web session's tokens)."""
    from checkout.identity.keys import KeyStore

    keys_dir = tmp_path_factory.mktemp("web-checkout-keys")
    KeyStore.generate_key(keys_dir)
    store = KeyStore(keys_dir, issuer="shop-checkout", audience="shop")
    jwks = tmp_path_factory.mktemp("web-jwks") / "both.json"
    jwks.write_text(json.dumps({"keys": store.jwks()["keys"] + test_issuer.jwks["keys"]}))
    return str(keys_dir), str(jwks)


@pytest.fixture
async def checkout(
    checkout_db: str, shop_stack: Stack, test_issuer: TestIssuer, checkout_keys: tuple[str, str]
) -> AsyncIterator[CheckoutFactory]:
    """Start checkout in-process: `await checkout(bookings=transport, loms=..., product=...,
    notifications=..., **settings)`. A service without a transport is unreachable (a closed port,
    through checkout's real HTTP stack)."""
    from checkout.config import Settings
    from checkout.main import create_app

    async with AsyncExitStack() as stack:

        async def start(
            *,
            bookings: httpx.AsyncBaseTransport | None = None,
            loms: httpx.AsyncBaseTransport | None = None,
            product: httpx.AsyncBaseTransport | None = None,
            notifications: httpx.AsyncBaseTransport | None = None,
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
                "bookings_url": "http://bookings" if bookings else nowhere,
                "shopping_redis_prefix": f"t-{uuid.uuid4().hex[:10]}:",
                "identity_redis_prefix": f"t-{uuid.uuid4().hex[:10]}:",
                "notifications_url": "http://notifications" if notifications else nowhere,
                **overrides,
            }
            app = create_app(Settings(**values))
            app.state.web_transports = {
                k: v for k, v in (("bookings", bookings), ("notifications", notifications)) if v
            }
            app.state.shopping_transports = {k: v for k, v in (("product", product), ("loms", loms)) if v}
            transport = await stack.enter_async_context(running_app(app))
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://checkout", timeout=30)
            )

        yield start


# --- the services the manager's desk and the notifications page call, real and in-process ----------
@pytest.fixture(scope="module")
async def product_stub(shop_stack: Stack, module_label: str, checkout_keys: tuple[str, str]) -> AsyncIterator[Any]:
    """product-stub with its demo catalogue; it trusts checkout's keys (the manager's web session)."""
    from product_stub.config import Settings as ProductSettings
    from product_stub.demo import load_demo_data
    from product_stub.main import create_app as create_product_app

    url = shop_stack.fresh_database("product-stub", f"web_{module_label}")
    await load_demo_data(url)
    settings = ProductSettings(database_url=url, jwt_jwks_file=checkout_keys[1], app_env="dev", log_json=False)
    async with running_app(create_product_app(settings)) as transport:
        yield transport


@pytest.fixture(scope="module")
async def loms(shop_stack: Stack, module_label: str, checkout_keys: tuple[str, str]) -> AsyncIterator[Any]:
    """LOMS with its demo warehouses and stock."""
    from loms.config import Settings as LomsSettings
    from loms.main import create_app as create_loms_app
    from shopcommon.services import service_spec

    url = shop_stack.fresh_database("loms", f"web_{module_label}")
    loader = service_spec("loms").load_demo_data()
    if loader is not None:
        await loader(url, {"APP_ENV": "dev"})
    settings = LomsSettings(
        database_url=url,
        redis_url=shop_stack.urls.redis_url,
        app_env="dev",
        log_json=False,
        kafka_bootstrap_servers=shop_stack.urls.kafka_bootstrap_servers,
        jwt_jwks_file=checkout_keys[1],
    )
    async with running_app(create_loms_app(settings)) as transport:
        yield transport


class Notifications:
    """The real notifications API (no consumer: the tests put notifications in its log directly)."""

    def __init__(self, transport: httpx.AsyncBaseTransport, db_url: str) -> None:
        self.transport = transport
        self.db_url = plain_url(db_url)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.db_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def add(self, user_id: int, order_id: int, status: str, subject: str) -> None:
        event_id = uuid.uuid4()
        await self.fetch("INSERT INTO inbox_events (event_id, event_type, order_id) VALUES ($1, $2, $3)",
                         event_id, "order.status_changed", order_id)  # fmt: skip
        await self.fetch(
            "INSERT INTO notifications (event_id, user_id, order_id, order_status, channel, recipient, subject, "
            "payload, status, sent_at) VALUES ($1, $2, $3, $4, 'email', 'c@shop.example', $5, '{}', 'sent', now())",
            event_id, user_id, order_id, status, subject,
        )  # fmt: skip


def notifications_app(shop_stack: Stack, label: str, jwks_file: str) -> tuple[Any, str]:
    """The real notifications app on a fresh database of its own (and that database's URL)."""
    from notifications.config import Settings as NotificationSettings
    from notifications.main import create_app as create_notifications_app
    from notifications.testing.push_service import local_push_guard

    url = shop_stack.fresh_database("notifications", label)
    settings = NotificationSettings(
        database_url=url,
        redis_url=shop_stack.urls.redis_url,
        kafka_bootstrap_servers=shop_stack.urls.kafka_bootstrap_servers,
        jwt_jwks_file=jwks_file,
        app_env="dev",
        log_json=False,
        consumer_enabled=False,
        email_sender_enabled=False,
        # The push sender runs: it finds nothing to send (the tests' notifications are e-mails, sent).
    )
    return create_notifications_app(settings, push_guard=local_push_guard()), url


@pytest.fixture(scope="module")
async def notifications(shop_stack: Stack, module_label: str, checkout_keys: tuple[str, str]) -> AsyncIterator[Any]:
    app, url = notifications_app(shop_stack, f"web_{module_label}", checkout_keys[1])
    async with running_app(app) as transport:
        yield Notifications(transport, url)

"""Fixtures: a fresh notifications database per module, the real checkout (users and service
tokens, the demo manager who creates customers) served over HTTP, a unique Kafka topic per test, and the app served by uvicorn in-process
(real HTTP, so the SSE stream streams)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from checkout.config import Settings as CheckoutSettings
from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.main import create_app as create_checkout_app
from notifications.config import Settings
from notifications.main import create_app
from notifications.push_guard import DestinationGuard
from notifications.testing.push_service import LocalPushService, local_push_guard, serve_push_service
from notifications.testing.server import serve_app
from notifications.testing.tls import TestCertificate
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer


@dataclass(frozen=True)
class Customer:
    id: int
    email: str


@dataclass
class Checkout:
    url: str

    async def register_customer(self, *, confirmed: bool = True) -> Customer:
        """A customer of one's own. A manager creates it, so its address counts as confirmed (and
        checkout mails nothing); `confirmed=False` registers it the public way, unconfirmed."""
        name = "n" + uuid.uuid4().hex[:12]
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            headers = {}
            if confirmed:
                signed_in = await client.post(
                    "/api/v1/auth/token", json={"username": "admin", "password": DEMO_PASSWORD}
                )
                assert signed_in.status_code == 200, signed_in.text
                headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
            resp = await client.post(
                "/api/v1/users",
                headers=headers,
                json={
                    "username": name,
                    "email": f"{name}@customers.test",
                    "password": "correct-horse-1",
                    "first_name": "Nora",
                    "last_name": "Tester",
                },
            )
        assert resp.status_code == 201, resp.text
        return Customer(resp.json()["id"], resp.json()["email"])


@pytest.fixture(scope="session")
async def checkout(shop_stack: Stack) -> AsyncIterator[Checkout]:
    """The real checkout app (identity: users API and client-credentials grant), with the demo accounts."""
    run = uuid.uuid4().hex[:8]
    database_url = shop_stack.fresh_database("checkout", "notif")
    await load_identity_demo(database_url, {"APP_ENV": "dev"})
    settings = CheckoutSettings(
        database_url=database_url,
        redis_url=shop_stack.urls.redis_url,
        app_env="dev",
        log_json=False,
        identity_redis_prefix=f"identity-{run}:",
        shopping_redis_prefix=f"checkout-{run}:",
    )  # type: ignore[call-arg]
    async with serve_app(create_checkout_app(settings)) as url:
        yield Checkout(url)


@pytest.fixture(scope="module")
def notifications_db(shop_stack: Stack, module_label: str) -> str:
    return shop_stack.fresh_database("notifications", module_label)


@pytest.fixture
def topic() -> str:
    return f"loms.order-events.test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def booking_topic() -> str:
    return f"bookings.booking-events.test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def push_tls(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    """The local push service's certificate (for `push.test` and 127.0.0.1) and its CA."""
    return TestCertificate.issue(tmp_path_factory.mktemp("push-tls"))


@pytest.fixture
def settings_for(
    shop_stack: Stack, test_issuer: TestIssuer, notifications_db: str, checkout: Checkout, push_tls: TestCertificate
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": notifications_db,
            "redis_url": shop_stack.urls.redis_url,
            "kafka_bootstrap_servers": shop_stack.urls.kafka_bootstrap_servers,
            "smtp_url": shop_stack.urls.smtp_url,
            "checkout_url": checkout.url,
            "jwt_jwks_file": str(test_issuer.jwks_path),
            "app_env": "dev",
            "log_json": False,
            "consumer_group": f"notifications-{uuid.uuid4().hex[:8]}",
            # A topic of the test's own: a test that publishes bookings names it (`booking_topic`).
            "booking_events_topic": f"bookings.booking-events.test-{uuid.uuid4().hex[:10]}",
            "delivery_poll_seconds": 0.2,
            "retry_base_seconds": 0.2,
            "retry_max_seconds": 1.0,
            "events_topic_partitions": 2,
            "push_ca_file": str(push_tls.ca_file),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@asynccontextmanager
async def running(
    settings: Settings, *, push_guard: DestinationGuard | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The service with its workers, served over real HTTP; a client for it. Push endpoints are
    checked by `push_guard`: by default the production one with a resolver that knows the
    local push service (which lives outside the system)."""
    app = create_app(settings, push_guard=push_guard or local_push_guard())
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield app, client


@pytest.fixture(scope="module")
async def push_service(push_tls: TestCertificate) -> AsyncIterator[LocalPushService]:
    service = LocalPushService()
    async with serve_push_service(service, push_tls):
        yield service


async def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one read against the service's database (tests check what was recorded)."""
    from sqlalchemy import text

    from shopcommon.db import make_engine

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def execute(database_url: str, sql: str, **params: Any) -> None:
    """One write to the service's database (a test sets up what only old versions could store)."""
    from sqlalchemy import text

    from shopcommon.db import make_engine

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


async def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Await `check()` until it returns something truthy (returned) or time runs out (AssertionError)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def process_env(
    shop_stack: Stack,
    *,
    database_url: str,
    checkout_url: str,
    issuer: TestIssuer,
    topic: str,
    group: str,
    **settings: object,
) -> dict[str, str]:
    """The environment of the service run as a real process (as `make run` runs it)."""
    env = {
        "APP_ENV": "dev",
        "LOG_JSON": "false",
        **shop_stack.urls.as_env(),
        "NOTIFICATIONS_DATABASE_URL": database_url,
        "SHOP_CHECKOUT_URL": checkout_url,
        "JWT_JWKS_FILE": str(issuer.jwks_path),
        "LOMS_EVENTS_TOPIC": topic,
        "BOOKINGS_BOOKING_EVENTS_TOPIC": f"bookings.booking-events.test-{uuid.uuid4().hex[:10]}",
        "NOTIFICATIONS_CONSUMER_GROUP": group,
        "NOTIFICATIONS_EVENTS_TOPIC_PARTITIONS": "2",
        "NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.2",
        "NOTIFICATIONS_RETRY_MAX_SECONDS": "1",
    }
    env.update(
        {
            f"NOTIFICATIONS_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
            for name, value in settings.items()
        }
    )
    return env

"""LOMS in-process against the session's real PostgreSQL, Valkey and Kafka API.

Each test module gets a fresh migrated database and its own event topic; tests within a module
use skus of their own (`new_sku`) so they never share stock rows.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from loms.config import Settings
from loms.main import create_app
from shopcommon.db import plain_url
from shopcommon.polling import poll
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

_skus = itertools.count(1_000)


def new_sku() -> int:
    """A sku no other test of the session uses."""
    return next(_skus) * 7 + 3


@pytest.fixture(scope="module")
def loms_db(shop_stack: Stack, module_label: str) -> str:
    return shop_stack.fresh_database("loms", module_label)


@pytest.fixture(scope="module")
def topic(module_label: str) -> str:
    return f"loms.order-events.test-{module_label}-{uuid.uuid4().hex[:8]}"


def make_settings(stack: Stack, db_url: str, issuer: TestIssuer, topic: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "jwt_jwks_file": str(issuer.jwks_path),
        "app_env": "dev",
        "log_json": False,
        "kafka_bootstrap_servers": stack.urls.kafka_bootstrap_servers,
        "redis_url": stack.urls.redis_url,
        "order_events_topic": topic,
        "db_pool_size": 10,
        "db_max_overflow": 40,
        # The fulfilment worker reads checkout's roster, which these tests do not run;
        # tests/fulfilment turns it on with a checkout of its own.
        "fulfilment_enabled": False,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://loms", timeout=60
        ) as client,
    ):
        yield app, client


@pytest.fixture(scope="module")
def settings(shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str) -> Settings:
    return make_settings(shop_stack, loms_db, test_issuer, topic)


@pytest.fixture(scope="module")
async def app_and_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(settings) as pair:
        yield pair


@pytest.fixture(scope="module")
async def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


class Auth:
    """Authorization headers for each kind of caller."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer

    def customer(self, user_id: int) -> dict[str, str]:
        return self.issuer.auth(user_id, "customer")

    def manager(self, user_id: int = 1) -> dict[str, str]:
        return self.issuer.auth(user_id, "manager")

    def service(self) -> dict[str, str]:
        """Checkout's token: it moves users' orders (orders:read, orders:write)."""
        return self.issuer.auth("checkout", "service")

    def stock_reader(self) -> dict[str, str]:
        """A service client granted stock:read only."""
        return self.issuer.auth("stock-reports", "service", scope="stock:read")


@pytest.fixture(scope="session")
def auth(test_issuer: TestIssuer) -> Auth:
    return Auth(test_issuer)


class Database:
    """Direct SQL for arranging stock and checking what the service wrote."""

    def __init__(self, url: str) -> None:
        self.url = plain_url(url)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def value(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    async def warehouses(self, count: int = 3) -> list[int]:
        existing = [r["id"] for r in await self.fetch("SELECT id FROM warehouses ORDER BY id")]
        for i in range(len(existing), count):
            existing.append(await self.value("INSERT INTO warehouses (name) VALUES ($1) RETURNING id", f"wh-{i}"))
        return existing[:count]

    async def stock(self, sku: int, *totals: int) -> list[int]:
        """Put `totals[i]` units of `sku` in the i-th warehouse; the warehouse ids used."""
        ids = await self.warehouses(max(3, len(totals)))
        for wh, total in zip(ids, totals, strict=False):
            await self.fetch(
                "INSERT INTO stocks (sku, warehouse_id, total) VALUES ($1, $2, $3) "
                "ON CONFLICT (sku, warehouse_id) DO UPDATE SET total = $3, reserved = 0",
                sku,
                wh,
                total,
            )
        return ids[: len(totals)]

    async def held(self, order_id: int) -> dict[int, int]:
        """Units an order's reservations hold, per warehouse (any state)."""
        rows = await self.fetch("SELECT warehouse_id, count FROM reservations WHERE order_id = $1", order_id)
        return {r["warehouse_id"]: r["count"] for r in rows}

    async def reservations_waiting_for_stock(self) -> int:
        """Reserving statements (either kind) of this database now waiting for a row lock."""
        return int(
            await self.value(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND query LIKE '%locked AS MATERIALIZED%'"
            )
        )

    async def levels(self, sku: int) -> dict[str, int]:
        """Total and reserved over all warehouses, and what paid orders wrote off."""
        row = (
            await self.fetch(
                "SELECT coalesce(sum(total), 0) AS total, coalesce(sum(reserved), 0) AS reserved FROM stocks WHERE sku = $1",
                sku,
            )
        )[0]
        written_off = await self.value(
            "SELECT coalesce(sum(count), 0) FROM reservations WHERE sku = $1 AND state = 'written_off'", sku
        )
        return {
            "total": row["total"],
            "reserved": row["reserved"],
            "written_off": written_off,
            "available": row["total"] - row["reserved"],
        }

    async def counts(self) -> dict[str, int]:
        """Row counts and a fingerprint of every order: 'nothing changed' checks compare two of these."""
        out = {}
        for table in ("orders", "order_items", "reservations", "idempotency_keys", "stocks", "warehouses"):
            out[table] = await self.value(f"SELECT count(*) FROM {table}")
        out["reserved"] = await self.value("SELECT coalesce(sum(reserved), 0) FROM stocks")
        out["total"] = await self.value("SELECT coalesce(sum(total), 0) FROM stocks")
        # Every order's status and last change: any status change shows (the outbox itself empties
        # as the relay publishes, so its size says nothing).
        out["order_states"] = await self.value(
            "SELECT md5(coalesce(string_agg(id || status || updated_at, ',' ORDER BY id), '')) FROM orders"
        )
        return out


@pytest.fixture(scope="module")
def db(loms_db: str) -> Database:
    return Database(loms_db)


async def consume(
    bootstrap: str, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
) -> list[dict[str, Any]]:
    """Read the topic from the beginning until `until(events)` holds; each event gets `_key`."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(events) and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for tp in sorted(batches, key=lambda t: t.partition):
                for message in batches[tp]:
                    event = orjson.loads(message.value)
                    event["_key"] = message.key.decode() if message.key else None
                    event["_partition"] = tp.partition
                    events.append(event)
    finally:
        await consumer.stop()
    return events


async def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Await `check()` until it returns something truthy; its last answer."""
    return await poll(check, until=bool, timeout=timeout, pause=interval, max_pause=interval)

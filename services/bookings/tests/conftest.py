"""Bookings in-process against the session's real PostgreSQL, Valkey and Kafka API.

Each test module gets a fresh migrated database and its own event topic; tests create the tables
they book (`Database.table`), so they never share one.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from bookings.config import Settings
from bookings.main import create_app
from shopcommon.db import plain_url
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

_names = itertools.count(1)


@pytest.fixture(scope="module")
def bookings_db(shop_stack: Stack, module_label: str) -> str:
    return shop_stack.fresh_database("bookings", module_label)


@pytest.fixture(scope="module")
def topic(module_label: str) -> str:
    return f"bookings.booking-events.test-{module_label}-{uuid.uuid4().hex[:8]}"


def make_settings(stack: Stack, db_url: str, issuer: TestIssuer, topic: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "jwt_jwks_file": str(issuer.jwks_path),
        "app_env": "dev",
        "log_json": False,
        "kafka_bootstrap_servers": stack.urls.kafka_bootstrap_servers,
        "redis_url": stack.urls.redis_url,
        "booking_events_topic": topic,
        "public_url": "http://pages.test",
        "db_pool_size": 10,
        "db_max_overflow": 40,
        # Suites make many requests from one client with one address; test_rate_limits turns them on.
        "requests_per_ip": 0,
        "requests_per_email": 0,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://bookings", timeout=60
        ) as client,
    ):
        yield app, client


@pytest.fixture(scope="module")
def settings(shop_stack: Stack, bookings_db: str, test_issuer: TestIssuer, topic: str) -> Settings:
    return make_settings(shop_stack, bookings_db, test_issuer, topic)


@pytest.fixture(scope="module")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as (_, client):
        yield client


class Auth:
    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer

    def customer(self, user_id: int = 501) -> dict[str, str]:
        return self.issuer.auth(user_id, "customer")

    def manager(self, user_id: int = 1) -> dict[str, str]:
        return self.issuer.auth(user_id, "manager")

    def worker(self, user_id: int = 77) -> dict[str, str]:
        return self.issuer.auth(user_id, "worker")


@pytest.fixture(scope="session")
def auth(test_issuer: TestIssuer) -> Auth:
    return Auth(test_issuer)


def at(hours: float, days: int = 3) -> datetime:
    """A moment `days` days from now at a whole hour plus `hours`: far enough ahead to book."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base + timedelta(hours=hours)


def booking_body(table_id: int, start: datetime, hours: float = 2, **over: Any) -> dict[str, Any]:
    body = {
        "table_id": table_id,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=hours)).isoformat(),
        "name": "Anna",
        "email": "anna@example.com",
    }
    return {**body, **over}


class Database:
    """Direct SQL for arranging tables and checking what the service wrote."""

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

    async def table(self, *, kind: str = "regular", seats: int = 4, price: int = 1000, bookable: bool = True) -> int:
        name = f"t-{next(_names)}-{uuid.uuid4().hex[:6]}"
        table_id = await self.value(
            "INSERT INTO tables (name, kind, seats, bookable) VALUES ($1, $2, $3, $4) RETURNING id",
            name,
            kind,
            seats,
            bookable,
        )
        await self.fetch(
            "INSERT INTO table_prices (table_id, effective_from, price) VALUES ($1, now() - interval '1 day', $2)",
            table_id,
            price,
        )
        return int(table_id)

    async def counts(self) -> dict[str, Any]:
        """Row counts and a fingerprint of every booking: 'nothing changed' checks compare two."""
        return {
            "bookings": await self.value("SELECT count(*) FROM bookings"),
            "tables": await self.value("SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM tables t"),
            "prices": await self.value("SELECT count(*) FROM table_prices"),
            "states": await self.value(
                "SELECT md5(coalesce(string_agg(id || status || updated_at, ',' ORDER BY id), '')) FROM bookings"
            ),
            # The last outbox id ever taken: the relay deletes what it has published at any moment,
            # so the rows themselves say nothing of what was written.
            "events": await self.value(
                "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', 'id')), 0)"
            ),
        }


@pytest.fixture(scope="module")
def db(bookings_db: str) -> Database:
    return Database(bookings_db)


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
                    events.append(event)
    finally:
        await consumer.stop()
    return events


async def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result or loop.time() >= deadline:
            return result
        await asyncio.sleep(interval)

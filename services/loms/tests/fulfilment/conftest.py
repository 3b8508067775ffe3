"""Fulfilment fixtures: the real checkout (workers are its users; LOMS reads them with its service
token) and the real product-stub (each sku's category) served over HTTP in this process, and LOMS
itself in-process or as real processes.

Each test makes categories of its own (a fresh name in product-stub, with products of fresh skus
stocked in LOMS) and workers of its own, so tests of a module never share a worker's load."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from checkout.config import Settings as CheckoutSettings
from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.main import create_app as create_checkout_app
from loms.config import Settings
from product_stub.config import Settings as ProductSettings
from product_stub.main import create_app as create_product_app
from shopcommon.devstack.servers import free_port
from shopcommon.services import service_spec
from shopcommon.testing.plugin import ServiceProcess, Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Database, eventually, make_settings, new_sku


@asynccontextmanager
async def serve_app(app: Any, startup_timeout: float = 30.0) -> AsyncIterator[str]:
    """The app served by uvicorn inside this event loop; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
    )
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # pytest owns signals
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + startup_timeout
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited during startup")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Checkout:
    """The real checkout: a manager makes, changes and removes workers."""

    url: str
    _manager: dict[str, str] | None = None

    async def _headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        if self._manager is None:
            signed_in = await client.post("/api/v1/auth/token", json={"username": "admin", "password": DEMO_PASSWORD})
            assert signed_in.status_code == 200, signed_in.text
            self._manager = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        return self._manager

    async def make_worker(self, *categories: str) -> int:
        name = "w" + uuid.uuid4().hex[:12]
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as client:
            headers = await self._headers(client)
            made = await client.post(
                "/api/v1/users",
                headers=headers,
                json={"username": name, "email": f"{name}@workers.test", "password": "correct-horse-1"},
            )
            assert made.status_code == 201, made.text
            user_id = int(made.json()["id"])
            changed = await client.patch(
                f"/api/v1/users/{user_id}", headers=headers, json={"role": "worker", "categories": list(categories)}
            )
            assert changed.status_code == 200, changed.text
        return user_id

    async def deactivate(self, user_id: int) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as client:
            resp = await client.patch(
                f"/api/v1/users/{user_id}", headers=await self._headers(client), json={"active": False}
            )
        assert resp.status_code == 200, resp.text

    async def remove(self, user_id: int) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as client:
            resp = await client.delete(f"/api/v1/users/{user_id}", headers=await self._headers(client))
        assert resp.status_code == 204, resp.text


@pytest.fixture(scope="session")
async def checkout(shop_stack: Stack) -> AsyncIterator[Checkout]:
    run = uuid.uuid4().hex[:8]
    database_url = shop_stack.fresh_database("checkout", "fulfil")
    await load_identity_demo(database_url, {"APP_ENV": "dev"})
    settings = CheckoutSettings(
        database_url=database_url,
        redis_url=shop_stack.urls.redis_url,
        app_env="dev",
        log_json=False,
        identity_redis_prefix=f"identity-{run}:",
        shopping_redis_prefix=f"checkout-{run}:",
    )
    async with serve_app(create_checkout_app(settings)) as url:
        yield Checkout(url)


_names = itertools.count(1)


@dataclass
class Catalogue:
    """The real product-stub: categories and products of each test's own."""

    url: str
    manager: dict[str, str]
    manufacturer: str

    async def category(self, db: Database, products: int = 3) -> tuple[str, list[int]]:
        """A new category with `products` new skus, each stocked with plenty in LOMS."""
        name = f"cat-{uuid.uuid4().hex[:8]}-{next(_names)}"
        skus = [new_sku() for _ in range(products)]
        async with httpx.AsyncClient(base_url=self.url, timeout=20, headers=self.manager) as client:
            resp = await client.post("/api/v1/categories", json={"name": name})
            assert resp.status_code == 201, resp.text
            for sku in skus:
                resp = await client.post(
                    "/api/v1/products",
                    json={
                        "sku": sku,
                        "name": f"item {sku}",
                        "price": 100,
                        "category": name,
                        "manufacturer": self.manufacturer,
                    },
                )
                assert resp.status_code == 201, resp.text
        for sku in skus:
            await db.stock(sku, 100_000)
        return name, skus

    async def rename(self, name: str) -> str:
        """The category renamed (as a manager's desk does); its new name."""
        async with httpx.AsyncClient(base_url=self.url, timeout=20, headers=self.manager) as client:
            listed = await client.get("/api/v1/categories")
            (group_id,) = [c["id"] for c in listed.json() if c["name"] == name]
            renamed = f"{name}-renamed"
            resp = await client.patch(f"/api/v1/categories/{group_id}", json={"name": renamed})
            assert resp.status_code == 200, resp.text
        return renamed

    async def delete_product(self, sku: int) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=20, headers=self.manager) as client:
            resp = await client.delete(f"/api/v1/products/{sku}")
        assert resp.status_code == 204, resp.text


@pytest.fixture(scope="session")
async def catalogue(shop_stack: Stack, test_issuer: TestIssuer) -> AsyncIterator[Catalogue]:
    settings = ProductSettings(
        database_url=shop_stack.fresh_database("product-stub", "fulfil"),
        jwt_jwks_file=str(test_issuer.jwks_path),
        app_env="dev",
        log_json=False,
    )
    manager = test_issuer.auth(1, "manager")
    async with serve_app(create_product_app(settings)) as url:
        maker = f"maker-{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(base_url=url, timeout=20, headers=manager) as client:
            resp = await client.post("/api/v1/manufacturers", json={"name": maker})
            assert resp.status_code == 201, resp.text
        yield Catalogue(url, manager, maker)


FAST = {
    "fulfilment_enabled": True,
    "fulfilment_interval": 0.2,
    "workers_ttl": 0.5,
    "workers_min_refresh": 0.2,
    # The events stay in the outbox, where the tests count them.
    "relay_enabled": False,
}


@pytest.fixture(scope="module")
def settings(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, checkout: Checkout, catalogue: Catalogue
) -> Settings:
    return make_settings(
        shop_stack,
        loms_db,
        test_issuer,
        topic,
        checkout_url=checkout.url,
        product_stub_url=catalogue.url,
        **FAST,
    )


def process_env(settings: Settings, shop_stack: Stack, **overrides: object) -> dict[str, str]:
    """The environment of LOMS run as a real process with `settings`' database, peers and pace."""
    env = {
        "APP_ENV": "dev",
        "LOG_JSON": "false",
        **shop_stack.urls.as_env(),
        "LOMS_DATABASE_URL": settings.database_url,
        "JWT_JWKS_FILE": settings.jwt_jwks_file,
        "SHOP_CHECKOUT_URL": settings.checkout_url,
        "SHOP_PRODUCT_STUB_URL": settings.product_stub_url,
        "LOMS_ORDER_EVENTS_TOPIC": settings.order_events_topic,
        "LOMS_DB_POOL_SIZE": "5",
        "LOMS_ORDER_WRITERS": "2",
    }
    for name, value in {**FAST, **overrides}.items():
        env[f"LOMS_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


async def start_loms(env: dict[str, str], shop_stack: Stack) -> ServiceProcess:
    proc = ServiceProcess(service_spec("loms"), env, shop_stack.embedded.log_dir)
    return await asyncio.to_thread(proc.start, 60)


class Orders:
    """Paid orders made the quick way: rows written as the create and pay statements leave them
    (`awaiting payment`, then `paid`, so the payment's trigger queues each for its tasks)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def paid(self, lines: list[list[tuple[int, int]]], user_id: int = 7) -> list[int]:
        """One paid order per entry of `lines` (`[(sku, count), ...]`); their ids in that order."""
        import asyncpg

        conn = await asyncpg.connect(self.db.url)
        try:
            async with conn.transaction():
                ids = [
                    r["id"]
                    for r in await conn.fetch(
                        "INSERT INTO orders (user_id, status) SELECT $1, 'awaiting payment' "
                        "FROM generate_series(1, $2) RETURNING id",
                        user_id,
                        len(lines),
                    )
                ]
                ids.sort()
                await conn.executemany(
                    "INSERT INTO order_items (order_id, sku, count) VALUES ($1, $2, $3)",
                    [
                        (order_id, sku, count)
                        for order_id, order in zip(ids, lines, strict=True)
                        for sku, count in order
                    ],
                )
            await conn.execute("UPDATE orders SET status = 'paid' WHERE id = ANY($1::bigint[])", ids)
        finally:
            await conn.close()
        return ids


@pytest.fixture(scope="module")
def orders(db: Database) -> Orders:
    return Orders(db)


async def task_events(db: Database, **match: Any) -> list[dict[str, Any]]:
    """`task.status_changed` events in the outbox (the relay is off), oldest first, filtered by fields."""
    rows = await db.fetch("SELECT key, payload::text AS payload FROM outbox ORDER BY id")
    out = []
    for row in rows:
        event = orjson.loads(row["payload"])
        if event.get("type") != "task.status_changed":
            continue
        assert row["key"] == str(event["order_id"])
        if all(event.get(k) == v for k, v in match.items()):
            out.append(event)
    return out


async def order_events(db: Database, order_id: int, status: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT payload::text AS payload FROM outbox WHERE key = $1 AND payload->>'type' = 'order.status_changed' "
        "AND payload->>'status' = $2 ORDER BY id",
        str(order_id),
        status,
    )
    return [orjson.loads(r["payload"]) for r in rows]


async def seen_by_loms(app: FastAPI, category: str, *workers: int) -> None:
    """Wait until LOMS's roster holds `workers` in `category`: a roster read between two workers'
    creation is used for `workers_ttl`, and the tasks paid meanwhile would all go to the first."""

    async def seen() -> bool:
        roster = await app.state.fulfilment.directory.refresh_on_miss(force=True)
        return set(workers) <= set(roster.of_category(category))

    assert await eventually(seen, timeout=20), f"LOMS never saw workers {workers} in {category}"

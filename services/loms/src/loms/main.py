from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from loms.api import admin, rest, rpc, tasks
from loms.config import Settings
from loms.db import Db
from loms.services.order_placer import OrderPlacer
from loms.verified_tokens import RememberingVerifier
from loms.workers.fulfilment import running_fulfilment
from loms.workers.supervisor import running_workers
from shopcommon.app import create_service_app

DESCRIPTION = """\
The Logistics and Order Management System of the route256 seed: orders, stock per warehouse,
reservations that never oversell, expiry of unpaid orders, and an outbox that publishes every
status change to `loms.order-events`.

* The route256 endpoints (`/createOrder`, `/listOrder`, `/orderPayed`, `/cancelOrder`, `/stocks`) are
  kept verbatim and need a bearer token; `/api/v1` is the REST API.
* Orders: `new` -> `awaiting payment` (stock reserved) or `failed` (stock short, the order stays
  recorded) -> `paid` (reserved units written off) or `cancelled` (released; reason `customer`,
  `staff` or `timeout`). Unpaid orders expire after the payment timeout (600 s by default).
* Item lines: skus 1..4294967295, counts 1..65535, at most 200 lines, never empty. A sku listed twice
  is merged into one line (counts added, within 65535; the lines must agree on the price).
* Prices: only `service` and `manager` callers may set an item's `price`; `total_price` is the sum
  when every line has one, else null.
* `Idempotency-Key` on every POST that creates an order or moves stock; `Prefer: wait=N` on creation.
* Stock reads (`GET /api/v1/stocks...`) are public: stock levels are catalogue information.

Each operation's `x-roles` names who may call it. Errors are `application/problem+json` (RFC 9457).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = RememberingVerifier(app.state.token_verifier)
        app.state.db = db = await Db.open(app.state.engine, settings.database_url, settings.order_writers)
        app.state.placer = placer = OrderPlacer(
            db.writers,
            lanes=min(settings.order_lanes, settings.order_writers),
            max_batch=settings.order_batch_max,
            wake_relay=db.relays.waker,
            limits=settings.unpaid_limits,
        )
        try:
            async with running_workers(db, settings) as workers, running_fulfilment(app, db.engine, settings):
                app.state.workers = workers
                # (The start-up heap leaves the collector's care in the common lifespan: settle_heap.)
                # Every order allocates a few hundred short-lived objects that reference counting
                # frees; young-generation collections walking them anyway cost CPU per order.
                gc.set_threshold(settings.gc_young_threshold, 20, 20)
                yield
        finally:
            await placer.close()
            await db.close()

    return create_service_app(
        settings,
        title="LOMS",
        description=DESCRIPTION,
        routers=[rpc.router, rest.router, rest.stocks, admin.router, tasks.router],
        lifespan=lifespan,
        uses_kafka=True,
        openapi_models=rest.HAND_READ_BODIES,
        openapi_tags=[
            {"name": "route256 LOMS", "description": "The seed's endpoints, field for field."},
            {"name": "orders", "description": "Orders: create, read, pay, cancel."},
            {"name": "stocks", "description": "Units that can still be bought (public)."},
            {"name": "warehouses", "description": "Warehouse and stock administration."},
            {"name": "tasks", "description": "Fulfilment: a task per product category of a paid order."},
        ],
    )

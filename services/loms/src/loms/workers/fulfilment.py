"""The fulfilment worker: passes of `services.fulfilment.Fulfilment` (tasks for paid orders, the
waiting ones assigned, the ones of departed workers moved). Woken by the outbox's notifications
(a payment writes its event and wakes it within milliseconds) and otherwise every
`fulfilment_interval` seconds. Safe with any number of replicas: orders are claimed with their
queue rows and assignments take turns per category."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from loms.clients.catalogue import CatalogueClient
from loms.clients.workers import WorkerDirectory
from loms.config import Settings
from loms.repositories.order_events import OUTBOX
from loms.services.fulfilment import Fulfilment
from shopcommon.http import make_http_client
from shopcommon.outbox import Listener, Worker
from shopcommon.service_auth import ServiceTokenProvider

log = logging.getLogger(__name__)


class FulfilmentWorker(Worker):
    name = "fulfilment"

    def __init__(self, fulfilment: Fulfilment, *, idle: float, wake: asyncio.Event | None = None) -> None:
        super().__init__(idle=idle, wake=wake)
        self.fulfilment = fulfilment
        self.created = 0
        self.assigned = 0
        self.moved = 0

    async def step(self) -> float:
        result = await self.fulfilment.run_pass()
        self.created += result.created
        self.assigned += result.assigned
        self.moved += result.moved
        return self.idle


@asynccontextmanager
async def running_fulfilment(app: FastAPI, engine: AsyncEngine, settings: Settings) -> AsyncIterator[None]:
    """The clients of checkout and product-stub, `app.state.fulfilment` (the API's assign needs it)
    and, unless `fulfilment_enabled` is off, the worker with its own LISTEN on the outbox channel."""
    async with make_http_client(timeout=settings.peer_timeout) as http:
        tokens = ServiceTokenProvider(
            http,
            f"{settings.checkout_url.rstrip('/')}/api/v1/auth/token",
            settings.client_id,
            settings.resolved_client_secret(),
        )
        directory = WorkerDirectory(
            http, tokens, settings.checkout_url, ttl=settings.workers_ttl, min_refresh=settings.workers_min_refresh
        )
        fulfilment = Fulfilment(
            engine,
            CatalogueClient(http, settings.product_stub_url),
            directory,
            settings.order_events_topic,
            batch_size=settings.fulfilment_batch_size,
        )
        app.state.fulfilment = fulfilment
        if not settings.fulfilment_enabled:
            yield
            return
        listener = Listener(settings.database_url, OUTBOX.channel)
        worker = FulfilmentWorker(fulfilment, idle=settings.fulfilment_interval, wake=listener.subscribe())
        listener.start()
        worker.start()
        try:
            yield
        finally:
            await worker.stop()
            await listener.stop()

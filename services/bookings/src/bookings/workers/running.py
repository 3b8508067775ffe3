"""The background work of a bookings process: the outbox relay and the purge (keys, counted requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from bookings.config import Settings
from bookings.services.events import OUTBOX
from bookings.workers.purge import KeyPurger
from shopcommon.outbox import Listener, OutboxRelay, Worker, running


@asynccontextmanager
async def running_workers(engine: AsyncEngine, settings: Settings) -> AsyncIterator[list[Worker]]:
    listener = Listener(settings.database_url, OUTBOX.channel)
    workers: list[Worker] = [
        KeyPurger(
            engine,
            retention=settings.idempotency_retention,
            interval=settings.purge_interval,
            hits_retention=settings.request_hits_retention(),
        )
    ]
    if settings.relay_enabled:
        wake = listener.subscribe()
        workers.append(OutboxRelay(engine, OUTBOX, settings.kafka_bootstrap_servers, settings.relay_tuning, wake))
    async with running(workers, listener):
        yield workers

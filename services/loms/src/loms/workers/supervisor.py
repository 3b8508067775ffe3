"""Which background workers a process runs (settings turn each off, so tests can run their own)
and their start and orderly stop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from loms.config import Settings
from loms.db import Db
from loms.repositories.outbox import CHANNEL
from loms.workers.base import Worker
from loms.workers.expiry import ExpiryWorker
from loms.workers.intake import IntakeWorker
from loms.workers.notifications import Listener
from loms.workers.relay import OutboxRelay


@asynccontextmanager
async def running_workers(db: Db, settings: Settings) -> AsyncIterator[list[Worker]]:
    listener = Listener(settings.database_url, CHANNEL)
    workers: list[Worker] = []
    if settings.intake_enabled:
        # With the fast path on, intake only sweeps up leftovers; without it, every order is its.
        wake = None if settings.inline_reservation else listener.subscribe()
        workers.append(IntakeWorker(db.engine, settings, wake))
    if settings.expiry_enabled:
        workers.append(ExpiryWorker(db.engine, settings))
    if settings.relay_enabled:
        wake = listener.subscribe()
        db.relays.subscribe(wake)
        workers.append(OutboxRelay(db.engine, settings, wake))
    if listener.has_subscribers:
        listener.start()
    for worker in workers:
        worker.start()
    try:
        yield workers
    finally:
        for worker in reversed(workers):
            await worker.stop()
        await listener.stop()

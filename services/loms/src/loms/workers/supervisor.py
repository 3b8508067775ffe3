"""Which background workers a process runs (settings turn each off, so tests can run their own)
and their start and orderly stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.db import Db
from loms.repositories.order_events import OUTBOX
from loms.workers.expiry import ExpiryWorker
from loms.workers.intake import IntakeWorker
from shopcommon.outbox import Listener, OutboxRelay, Worker, running


def outbox_relay(engine: AsyncEngine, settings: Settings, wake: asyncio.Event | None = None) -> OutboxRelay:
    """The relay publishing LOMS's outbox to `order_events_topic`."""
    return OutboxRelay(engine, OUTBOX, settings.kafka_bootstrap_servers, settings.relay_tuning, wake)


def outbox_listener(settings: Settings) -> Listener:
    """The process's LISTEN connection on the outbox's channel (it wakes the relay and intake)."""
    return Listener(settings.database_url, OUTBOX.channel)


@asynccontextmanager
async def running_workers(db: Db, settings: Settings) -> AsyncIterator[list[Worker]]:
    listener = outbox_listener(settings)
    workers: list[Worker] = []
    if settings.intake_enabled:
        wake = listener.subscribe()
        db.intake.subscribe(wake)
        workers.append(IntakeWorker(db.engine, settings, wake))
    if settings.expiry_enabled:
        workers.append(ExpiryWorker(db.engine, settings))
    if settings.relay_enabled:
        wake = listener.subscribe()
        db.relays.subscribe(wake)
        workers.append(outbox_relay(db.engine, settings, wake))
    async with running(workers, listener):
        yield workers

"""The expiry worker: cancels orders left unpaid past their deadline and, now and then, forgets
old idempotency keys. Safe with any number of replicas (SKIP LOCKED)."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.services.expire import expire_due, purge_old_records
from loms.workers.base import Worker

HOUSEKEEPING_EVERY = 300.0


class ExpiryWorker(Worker):
    name = "expiry"

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__(idle=settings.expiry_interval)
        self.engine = engine
        self.settings = settings
        self.expired = 0
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY

    async def step(self) -> float:
        if time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
            await purge_old_records(self.engine, settings=self.settings)
        cancelled = await expire_due(self.engine, settings=self.settings)
        self.expired += cancelled
        return 0.0 if cancelled >= self.settings.expiry_batch_size else self.idle

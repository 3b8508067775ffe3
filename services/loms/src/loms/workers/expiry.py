"""The expiry worker: cancels orders left unpaid past their deadline and, now and then, forgets
old idempotency keys. Safe with any number of replicas (SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.services.expire import expire_due, purge_old_records
from shopcommon.outbox import Worker

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 300.0


class ExpiryWorker(Worker):
    name = "expiry"

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__(idle=settings.expiry_interval)
        self.engine = engine
        self.settings = settings
        self.expired = 0
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
        self._housekeeping: asyncio.Task[None] | None = None

    async def step(self) -> float:
        if time.monotonic() >= self._next_housekeeping and (self._housekeeping is None or self._housekeeping.done()):
            self._next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY
            # A pass forgets every expired key, batch after batch, however many piled up; it runs
            # beside the expiry, so unpaid orders are still cancelled on time meanwhile.
            self._housekeeping = asyncio.create_task(self._purge(), name="expiry-housekeeping")
        cancelled = await expire_due(self.engine, settings=self.settings)
        self.expired += cancelled
        return 0.0 if cancelled >= self.settings.expiry_batch_size else self.idle

    async def _purge(self) -> None:
        try:
            forgotten = await purge_old_records(self.engine, settings=self.settings)
        except Exception as exc:  # the next pass tries again
            log.warning("idempotency-key purge failed (%s: %s)", type(exc).__name__, exc)
            return
        if forgotten:
            log.info("forgot %d idempotency keys past their retention", forgotten)

    async def close(self) -> None:
        if self._housekeeping is not None and not self._housekeeping.done():
            # A batch in flight rolls back; the next start's pass picks up where this one stopped.
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        await super().close()

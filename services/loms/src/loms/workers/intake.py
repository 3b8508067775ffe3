"""The intake worker: the seed's "queue processed by a cron". The `orders` table with status
`new` is the queue; each order is claimed with SKIP LOCKED, so any number of intake workers
(and the create requests' own attempts) never reserve one order twice."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.services.reserve import reserve_next
from shopcommon.outbox import Worker


class IntakeWorker(Worker):
    name = "intake"

    def __init__(self, engine: AsyncEngine, settings: Settings, wake: asyncio.Event | None = None) -> None:
        super().__init__(idle=settings.intake_poll_interval, wake=wake)
        self.engine = engine
        self.settings = settings
        self.reserved = 0

    async def step(self) -> float:
        order = await reserve_next(self.engine, settings=self.settings)
        if order is None:
            return self.idle
        self.reserved += 1
        return 0.0

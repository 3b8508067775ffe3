"""Forgets stored `Idempotency-Key` answers past their retention (safe with many replicas: each
run deletes what it finds, a second one finds less)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bookings.repositories import idempotency
from shopcommon.outbox import Worker


class KeyPurger(Worker):
    name = "idempotency-purge"

    def __init__(self, engine: AsyncEngine, *, retention: float, interval: float) -> None:
        super().__init__(idle=interval)
        self.engine = engine
        self.retention = retention

    async def step(self) -> float:
        async with self.engine.begin() as conn:
            deleted = await idempotency.purge(conn, older_than=self.retention)
        return 0.0 if deleted >= 5_000 else self.idle

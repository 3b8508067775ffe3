"""Forgets stored `Idempotency-Key` answers past their retention, and counted requests older than
the longest rate-limit window (safe with many replicas: each run deletes what it finds, a second
one finds less)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bookings.repositories import idempotency, request_hits
from shopcommon.outbox import Worker

BATCH = 5_000


class KeyPurger(Worker):
    name = "idempotency-purge"

    def __init__(self, engine: AsyncEngine, *, retention: float, interval: float, hits_retention: float) -> None:
        super().__init__(idle=interval)
        self.engine = engine
        self.retention = retention
        self.hits_retention = hits_retention

    async def step(self) -> float:
        async with self.engine.begin() as conn:
            keys = await idempotency.purge(conn, older_than=self.retention)
        async with self.engine.begin() as conn:
            hits = await request_hits.purge(conn, older_than=self.hits_retention)
        return 0.0 if max(keys, hits) >= BATCH else self.idle

"""Expiry: orders still `awaiting payment` after their deadline are cancelled (reason `timeout`).

`FOR UPDATE SKIP LOCKED` lets several replicas sweep at once without cancelling anything twice;
an order being paid at that moment is locked and skipped, and the payment sees the deadline.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.domain.statuses import CancelReason
from loms.repositories import idempotency, orders
from loms.services.cancel import cancel_locked
from loms.services.clock import utcnow


async def expire_due(engine: AsyncEngine, *, settings: Settings) -> int:
    """Cancel one batch of overdue orders; the number cancelled."""
    async with engine.begin() as conn:
        due = await orders.lock_expired(conn, settings.expiry_batch_size)
        if not due:
            return 0
        await cancel_locked(conn, due, reason=CancelReason.TIMEOUT, settings=settings, request_id=None)
        return len(due)


async def purge_old_records(engine: AsyncEngine, *, settings: Settings, batch: int = idempotency.PURGE_BATCH) -> int:
    """Forget every idempotency key past its retention, `batch` at a time, each batch a transaction
    of its own (short locks, bounded WAL), until a batch comes back short: however many orders
    arrived since the last pass, one pass clears what has expired. The number forgotten."""
    before = utcnow() - timedelta(seconds=settings.idempotency_retention)
    forgotten = 0
    while True:
        async with engine.begin() as conn:
            deleted = await idempotency.purge(conn, before, batch)
        forgotten += deleted
        if deleted < batch:
            return forgotten

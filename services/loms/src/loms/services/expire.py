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


async def purge_old_records(engine: AsyncEngine, *, settings: Settings) -> int:
    """Forget idempotency keys past their retention."""
    now = utcnow()
    async with engine.begin() as conn:
        return await idempotency.purge(conn, now - timedelta(seconds=settings.idempotency_retention))

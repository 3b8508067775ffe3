"""The notification table as a delivery queue: claim what is due, then record the outcome.

A claim moves `next_attempt_at` a lease ahead instead of holding a lock while sending, so a
sender that dies mid-send leaves its rows to be picked up again once the lease runs out. That
moment is the claim's token: an outcome is recorded only while the row still carries it, so a
sender whose lease ran out (another replica has claimed the row since) changes nothing. A
notification waits while an earlier one of the same order or booking to the same person (same
channel and target) is still pending, so "paid" never overtakes "awaiting payment", nor
"confirmed" "received"; a worker's task e-mail does not wait for the customer's order e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.delivery import Channel, DeliveryStatus
from notifications.models import PENDING, notifications

PENDING_STATUS = DeliveryStatus.PENDING.value

_CLAIM = text(f"""
WITH due AS (
    SELECT n.id FROM notifications n
    WHERE n.channel = :channel AND n.status = {PENDING} AND n.next_attempt_at <= now()
      AND NOT EXISTS (
          SELECT 1 FROM notifications earlier
          WHERE earlier.order_id = n.order_id AND earlier.channel = n.channel
            AND earlier.user_id IS NOT DISTINCT FROM n.user_id
            AND earlier.subscription_id IS NOT DISTINCT FROM n.subscription_id
            AND earlier.status = {PENDING} AND earlier.id < n.id)
      AND NOT EXISTS (
          SELECT 1 FROM notifications earlier
          WHERE earlier.booking_id = n.booking_id AND earlier.channel = n.channel
            AND earlier.subscription_id IS NOT DISTINCT FROM n.subscription_id
            AND earlier.status = {PENDING} AND earlier.id < n.id)
    ORDER BY n.next_attempt_at, n.id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED)
UPDATE notifications n
SET next_attempt_at = now() + make_interval(secs => :lease), attempts = n.attempts + 1
FROM due WHERE n.id = due.id
RETURNING n.id, n.user_id, n.order_id, n.booking_id, n.subscription_id, n.payload, n.attempts, n.traceparent,
          n.next_attempt_at AS lease_until
""")


@dataclass(frozen=True)
class Claimed:
    id: int
    #: Null for a booking made as a guest.
    user_id: int | None
    #: One of the two is set: what the notification tells of.
    order_id: int | None
    booking_id: int | None
    subscription_id: int | None
    payload: dict[str, Any]
    attempts: int
    #: The trace context of the event that caused it; the sending continues that trace.
    traceparent: str | None = None
    #: When the claim's lease ends: the claim's token (`held`).
    lease_until: datetime | None = None


async def claim_due(session: AsyncSession, channel: Channel, *, limit: int, lease_seconds: float) -> list[Claimed]:
    result = await session.execute(_CLAIM, {"channel": channel.value, "limit": limit, "lease": lease_seconds})
    return sorted((Claimed(**row._mapping) for row in result), key=lambda c: c.id)


def held(item: Claimed) -> Any:
    """The row while this claim still holds it: pending, and not claimed again since."""
    return and_(
        notifications.c.id == item.id,
        notifications.c.status == PENDING_STATUS,
        notifications.c.next_attempt_at == item.lease_until,
    )


async def mark_many_sent(session: AsyncSession, sent: list[tuple[Claimed, str | None]]) -> None:
    """Notifications accepted: one statement, executed for each (claim, recipient)."""
    if not sent:
        return
    await session.execute(
        update(notifications)
        .where(
            notifications.c.id == bindparam("sent_id"),
            notifications.c.status == PENDING_STATUS,
            notifications.c.next_attempt_at == bindparam("sent_lease"),
        )
        .values(status=DeliveryStatus.SENT.value, sent_at=func.now(), recipient=bindparam("sent_to"), last_error=None)
        .execution_options(synchronize_session=False),
        [{"sent_id": item.id, "sent_lease": item.lease_until, "sent_to": recipient} for item, recipient in sent],
    )


async def mark_failed(session: AsyncSession, item: Claimed, *, error: str, recipient: str | None = None) -> None:
    await session.execute(
        update(notifications)
        .where(held(item))
        .values(status=DeliveryStatus.FAILED.value, last_error=error[:2000], recipient=recipient)
    )


async def release(session: AsyncSession, unsent: list[Claimed]) -> None:
    """Claimed rows not tried: due again now, and the claim not counted as an attempt."""
    await session.execute(
        update(notifications)
        .where(or_(*(held(item) for item in unsent)))
        .values(next_attempt_at=func.now(), attempts=notifications.c.attempts - 1)
    )


async def schedule_retry(session: AsyncSession, item: Claimed, *, error: str, delay_seconds: float) -> None:
    await session.execute(
        update(notifications)
        .where(held(item))
        .values(last_error=error[:2000], next_attempt_at=func.now() + _seconds(delay_seconds))
    )


def _seconds(seconds: float) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)

"""The notification table as a delivery queue: claim what is due, then record the outcome.

A claim moves `next_attempt_at` a lease ahead instead of holding a lock while sending, so a
sender that dies mid-send leaves its rows to be picked up again once the lease runs out. A
notification waits while an earlier one of the same order or booking to the same person (same
channel and target) is still pending, so "paid" never overtakes "awaiting payment", nor
"confirmed" "received"; a worker's task e-mail does not wait for the customer's order e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.delivery import Channel, DeliveryStatus
from notifications.models import PENDING, notifications

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
RETURNING n.id, n.user_id, n.order_id, n.booking_id, n.subscription_id, n.payload, n.attempts, n.traceparent
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


async def claim_due(session: AsyncSession, channel: Channel, *, limit: int, lease_seconds: float) -> list[Claimed]:
    result = await session.execute(_CLAIM, {"channel": channel.value, "limit": limit, "lease": lease_seconds})
    return sorted((Claimed(**row._mapping) for row in result), key=lambda c: c.id)


async def mark_sent(session: AsyncSession, notification_id: int, *, recipient: str | None) -> None:
    await session.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(status=DeliveryStatus.SENT.value, sent_at=func.now(), recipient=recipient, last_error=None)
    )


async def mark_many_sent(session: AsyncSession, sent: list[tuple[int, str | None]]) -> None:
    """Several notifications accepted: one statement, executed for each (id, recipient)."""
    if not sent:
        return
    await session.execute(
        update(notifications)
        .where(notifications.c.id == bindparam("sent_id"))
        .values(status=DeliveryStatus.SENT.value, sent_at=func.now(), recipient=bindparam("sent_to"), last_error=None)
        .execution_options(synchronize_session=False),
        [{"sent_id": nid, "sent_to": recipient} for nid, recipient in sent],
    )


async def mark_failed(session: AsyncSession, notification_id: int, *, error: str, recipient: str | None = None) -> None:
    await session.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(status=DeliveryStatus.FAILED.value, last_error=error[:2000], recipient=recipient)
    )


async def release(session: AsyncSession, notification_ids: list[int]) -> None:
    """Claimed rows not tried: due again now, and the claim not counted as an attempt."""
    await session.execute(
        update(notifications)
        .where(notifications.c.id.in_(notification_ids), notifications.c.status == DeliveryStatus.PENDING.value)
        .values(next_attempt_at=func.now(), attempts=notifications.c.attempts - 1)
    )


async def schedule_retry(session: AsyncSession, notification_id: int, *, error: str, delay_seconds: float) -> None:
    await session.execute(
        update(notifications)
        .where(notifications.c.id == notification_id)
        .values(last_error=error[:2000], next_attempt_at=func.now() + _seconds(delay_seconds))
    )


def _seconds(seconds: float) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, seconds)

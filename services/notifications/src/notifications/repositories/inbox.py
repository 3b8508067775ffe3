"""The inbox: an event id recorded here has had its effects recorded in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.delivery import Channel, wants_email
from notifications.domain.events import OrderStatusChanged
from notifications.domain.messages import subject_for
from notifications.models import inbox_events, notifications, push_subscriptions


async def record_event(session: AsyncSession, event: OrderStatusChanged, document: dict[str, Any]) -> bool:
    """Record the event and the notifications it causes; False (and nothing written) when seen before."""
    inserted = await session.scalar(
        insert(inbox_events)
        .values(event_id=event.event_id, event_type=event.type, order_id=event.order_id)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox_events.c.event_id)
    )
    if inserted is None:
        return False
    base = {
        "event_id": event.event_id, "user_id": event.user_id, "order_id": event.order_id,
        "order_status": event.status, "subject": subject_for(event)[:300], "payload": document,
    }
    rows = []
    if wants_email(event):
        rows.append({**base, "channel": Channel.EMAIL.value, "subscription_id": None})
    subscription_ids = (await session.scalars(
        select(push_subscriptions.c.id).where(push_subscriptions.c.user_id == event.user_id)
        .order_by(push_subscriptions.c.id)
    )).all()
    rows += [{**base, "channel": Channel.PUSH.value, "subscription_id": sid} for sid in subscription_ids]
    if rows:
        await session.execute(notifications.insert(), rows)
    return True

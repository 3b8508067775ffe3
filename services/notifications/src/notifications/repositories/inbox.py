"""The inbox: an event id recorded here has had its effects recorded in the same transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.delivery import Channel, wants_email
from notifications.domain.events import OrderStatusChanged
from notifications.domain.messages import subject_for
from notifications.models import inbox_events, notifications, push_subscriptions

Parsed = tuple[OrderStatusChanged, dict[str, Any]]


async def record_events(session: AsyncSession, events: Sequence[Parsed]) -> list[OrderStatusChanged]:
    """Record the events not seen before and the notifications they cause; those events, in order.

    A few statements for the whole chunk, whatever its size: one insert into the inbox (repeats
    are skipped by its primary key), one read of the users' push subscriptions, one insert of
    the notifications.
    """
    unique = list({event.event_id: (event, doc) for event, doc in events}.values())
    if not unique:
        return []
    new_ids = set(
        await session.scalars(
            insert(inbox_events)
            .values([{"event_id": e.event_id, "event_type": e.type, "order_id": e.order_id} for e, _ in unique])
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(inbox_events.c.event_id)
        )
    )
    fresh = [(event, doc) for event, doc in unique if event.event_id in new_ids]
    if not fresh:
        return []
    subscriptions = await _subscriptions_of(session, {event.user_id for event, _ in fresh})
    rows = [row for event, doc in fresh for row in _notification_rows(event, doc, subscriptions[event.user_id])]
    if rows:
        await session.execute(notifications.insert(), rows)
    return [event for event, _ in fresh]


async def _subscriptions_of(session: AsyncSession, user_ids: set[int]) -> dict[int, list[int]]:
    result = await session.execute(
        select(push_subscriptions.c.user_id, push_subscriptions.c.id)
        .where(push_subscriptions.c.user_id.in_(user_ids))
        .order_by(push_subscriptions.c.id)
    )
    by_user: dict[int, list[int]] = defaultdict(list)
    for user_id, subscription_id in result:
        by_user[user_id].append(subscription_id)
    return by_user


def _notification_rows(
    event: OrderStatusChanged, document: dict[str, Any], subscription_ids: list[int]
) -> list[dict[str, Any]]:
    base = {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "order_id": event.order_id,
        "order_status": event.status,
        "subject": subject_for(event)[:300],
        "payload": document,
    }
    rows = [{**base, "channel": Channel.EMAIL.value, "subscription_id": None}] if wants_email(event) else []
    rows += [{**base, "channel": Channel.PUSH.value, "subscription_id": sid} for sid in subscription_ids]
    return rows

"""The inbox: an event id recorded here has had its effects recorded in the same transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.delivery import Channel, DeliveryStatus, booking_address_problem, wants_email
from notifications.domain.events import STAFF_ONLY, BookingStatusChanged, Consumed
from notifications.domain.messages import subject_for
from notifications.models import inbox_events, notifications, push_subscriptions

Parsed = tuple[Consumed, dict[str, Any]]


async def record_events(
    session: AsyncSession, events: Sequence[Parsed], traces: Mapping[uuid.UUID, str | None] | None = None
) -> list[Consumed]:
    """Record the events not seen before and the notifications they cause; those events, in order.
    A notification keeps the trace context (`traces`, by event id) its event arrived with.

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
            .values([{"event_id": e.event_id, "event_type": e.type, **_about(e)} for e, _ in unique])
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(inbox_events.c.event_id)
        )
    )
    fresh = [(event, doc) for event, doc in unique if event.event_id in new_ids]
    if not fresh:
        return []
    subscriptions = await _subscriptions_of(session, {event.user_id for event, _ in fresh if _pushed(event)})
    traces = traces or {}
    rows = [
        {**row, "traceparent": traces.get(event.event_id)}
        for event, doc in fresh
        for row in _notification_rows(event, doc, subscriptions)
    ]
    if rows:
        await session.execute(notifications.insert(), rows)
    return [event for event, _ in fresh]


def _about(event: Consumed) -> dict[str, int | None]:
    if isinstance(event, BookingStatusChanged):
        return {"order_id": None, "booking_id": event.booking_id}
    if isinstance(event, STAFF_ONLY):
        return {"order_id": None, "booking_id": None}
    return {"order_id": event.order_id, "booking_id": None}


def _pushed(event: Consumed) -> bool:
    """Web push tells customers of their orders; a booking is told by e-mail (and the live stream),
    a manager's stock or table change only on the managers' live stream."""
    return not isinstance(event, (BookingStatusChanged, *STAFF_ONLY))


async def _subscriptions_of(session: AsyncSession, user_ids: set[int | None]) -> dict[int | None, list[int]]:
    by_user: dict[int | None, list[int]] = defaultdict(list)
    if not user_ids:
        return by_user
    result = await session.execute(
        select(push_subscriptions.c.user_id, push_subscriptions.c.id)
        .where(push_subscriptions.c.user_id.in_(user_ids))
        .order_by(push_subscriptions.c.id)
    )
    for user_id, subscription_id in result:
        by_user[user_id].append(subscription_id)
    return by_user


def _notification_rows(
    event: Consumed, document: dict[str, Any], subscriptions: dict[int | None, list[int]]
) -> list[dict[str, Any]]:
    if isinstance(event, STAFF_ONLY) or (not wants_email(event) and not _pushed(event)):
        return []
    base = {
        "event_id": event.event_id,
        "user_id": event.user_id,
        **_about(event),
        "order_status": None,
        "booking_status": None,
        "subject": subject_for(event)[:300],
        "payload": document,
        "status": DeliveryStatus.PENDING.value,
        "last_error": None,
        "subscription_id": None,
    }
    if isinstance(event, BookingStatusChanged):
        base["booking_status"] = event.status
        problem = booking_address_problem(event)
        if problem is not None:
            # Nobody to e-mail (a phone-only booking): logged as failed at once, so the booking's
            # history is in the log and nothing waits to be sent.
            base.update(status=DeliveryStatus.FAILED.value, last_error=problem)
    else:
        base["order_status"] = event.status
    rows = [{**base, "channel": Channel.EMAIL.value}] if wants_email(event) else []
    if _pushed(event):
        rows += [
            {**base, "channel": Channel.PUSH.value, "subscription_id": sid} for sid in subscriptions[event.user_id]
        ]
    return rows

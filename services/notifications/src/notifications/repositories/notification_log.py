"""Reading a customer's own notification log, newest first, in keyset pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.models import notifications as n

_COLUMNS = (
    n.c.id,
    n.c.event_id,
    n.c.order_id,
    n.c.order_status,
    n.c.booking_id,
    n.c.booking_status,
    n.c.channel,
    n.c.recipient,
    n.c.subject,
    n.c.status,
    n.c.attempts,
    n.c.last_error,
    n.c.created_at,
    n.c.sent_at,
)


async def page_for_user(session: AsyncSession, user_id: int, *, limit: int, before_id: int | None) -> list[Any]:
    """Up to `limit + 1` rows, so the caller can tell whether another page follows."""
    query = select(*_COLUMNS).where(n.c.user_id == user_id)
    if before_id is not None:
        query = query.where(n.c.id < before_id)
    query = query.order_by(n.c.id.desc()).limit(limit + 1)
    return list((await session.execute(query)).all())

"""The caller's own notifications, newest first, in cursor pages."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.log import LoggedNotification, LogPage
from notifications.repositories import notification_log
from shopcommon.pagination import CursorId, Position, decode_cursor, encode_cursor, split_page


class BeforeId(Position):
    """Newest first: the next page holds the ids below `id` (the name cursors have always carried)."""

    id: CursorId


async def list_own(session: AsyncSession, *, user_id: int, limit: int, cursor: str | None) -> LogPage:
    position = decode_cursor(cursor, BeforeId)
    before_id = position.id if position else None
    rows = await notification_log.page_for_user(session, user_id, limit=limit, before_id=before_id)
    found, last = split_page(rows, limit, lambda row: row.id)
    items = [LoggedNotification(**row._mapping) for row in found]
    return LogPage(items, None if last is None else encode_cursor(BeforeId(id=last)))

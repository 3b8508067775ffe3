"""The caller's own notifications, newest first, in cursor pages."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.domain.log import LoggedNotification, LogPage
from notifications.repositories import notification_log
from shopcommon.pagination import BadCursor, decode_cursor, encode_cursor


async def list_own(session: AsyncSession, *, user_id: int, limit: int, cursor: str | None) -> LogPage:
    position = decode_cursor(cursor, "id")
    before_id = position["id"] if position else None
    if before_id is not None and (
        not isinstance(before_id, int) or isinstance(before_id, bool) or not 0 < before_id < 2**63
    ):
        raise BadCursor("The cursor is not one this service issued.")
    rows = await notification_log.page_for_user(session, user_id, limit=limit, before_id=before_id)
    items = [LoggedNotification(**row._mapping) for row in rows[:limit]]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return LogPage(items, next_cursor)

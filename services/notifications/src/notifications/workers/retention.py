"""Forgets old events: inbox rows past the retention, with the notifications they caused.

An event redelivered after that long would be told again; the retention is far longer than any
broker keeps a message."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.models import PENDING
from shopcommon.db import transaction

log = logging.getLogger(__name__)

# Notifications still pending are kept: a delivery in progress is never cut short.
_PURGE = text(f"""
DELETE FROM inbox_events WHERE event_id IN (
    SELECT i.event_id FROM inbox_events i
    WHERE i.received_at < now() - make_interval(secs => :age)
      AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = i.event_id AND n.status = {PENDING})
    LIMIT :limit)
""")


async def purge_once(sessionmaker: async_sessionmaker[AsyncSession], *, age_seconds: float, limit: int = 5000) -> int:
    async with transaction(sessionmaker) as session:
        result = await session.execute(_PURGE, {"age": age_seconds, "limit": limit})
    return int(getattr(result, "rowcount", 0) or 0)


async def run_retention(
    sessionmaker: async_sessionmaker[AsyncSession], *, age_seconds: float, interval_seconds: float
) -> None:
    while True:
        try:
            purged = await purge_once(sessionmaker, age_seconds=age_seconds)
            while purged > 0:  # in slices, so no transaction holds many rows for long
                purged = await purge_once(sessionmaker, age_seconds=age_seconds)
        except Exception:  # the database may be away; try at the next interval
            log.exception("retention purge failed")
        await asyncio.sleep(interval_seconds)

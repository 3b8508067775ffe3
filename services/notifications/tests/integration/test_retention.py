"""Old events are forgotten, pending deliveries never."""

import uuid

from sqlalchemy import text

from notifications.workers.retention import _PURGE, purge_once
from shopcommon.db import make_engine, make_sessionmaker

from ..conftest import query

OLD = "now() - interval '100 days'"


async def insert_event(db: str, *, age: str, status: str | None) -> str:
    event_id = str(uuid.uuid4())
    engine = make_engine(db, pool_size=1, max_overflow=0)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"INSERT INTO inbox_events (event_id, event_type, order_id, received_at) "
                f"VALUES (:e, 'order.status_changed', 1, {age})"
            ),
            {"e": event_id},
        )
        if status:
            await conn.execute(
                text(
                    "INSERT INTO notifications (event_id, user_id, order_id, order_status, channel, "
                    "subject, payload, status) VALUES (:e, 1, 1, 'paid', 'email', 's', '{}', :s)"
                ),
                {"e": event_id, "s": status},
            )
    await engine.dispose()
    return event_id


async def test_events_past_the_retention_go_with_their_notifications_unless_still_pending(
    notifications_db: str,
) -> None:
    old_sent = await insert_event(notifications_db, age=OLD, status="sent")
    old_pending = await insert_event(notifications_db, age=OLD, status="pending")
    recent = await insert_event(notifications_db, age="now()", status="sent")
    engine = make_engine(notifications_db, pool_size=1, max_overflow=0)
    try:
        await purge_once(make_sessionmaker(engine), age_seconds=90 * 86400)
    finally:
        await engine.dispose()
    left = {str(r[0]) for r in await query(notifications_db, "SELECT event_id FROM inbox_events")}
    notes = {str(r[0]) for r in await query(notifications_db, "SELECT event_id FROM notifications")}
    assert old_sent not in left and old_sent not in notes
    assert {old_pending, recent} <= left and {old_pending, recent} <= notes


async def test_the_purge_reaches_old_events_through_an_index_not_the_whole_inbox(notifications_db: str) -> None:
    """Each purge slice read every row of the inbox to find the old ones."""
    engine = make_engine(notifications_db, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL enable_seqscan = off"))  # as the planner does for a large inbox
            plan = (await conn.execute(text("EXPLAIN " + _PURGE.text), {"age": 86400.0, "limit": 5000})).scalars().all()
    finally:
        await engine.dispose()
    assert any("ix_inbox_events_received_at" in line for line in plan), plan

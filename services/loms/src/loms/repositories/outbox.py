"""The outbox: events written in the transaction of the change they describe, published later.

`EVENTS_CTE` is a fragment the status-changing statements embed, so a change and its event are
one statement; `NOTIFY` (delivered at commit) wakes the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

CHANNEL = "loms_outbox"

EVENTS_CTE = """events AS (
    INSERT INTO outbox (topic, key, payload, request_id)
    SELECT CAST(:ev_topic AS varchar), e.key, e.payload, CAST(:ev_request_id AS varchar)
    FROM unnest(CAST(:ev_keys AS varchar[]), CAST(:ev_payloads AS jsonb[])) AS e(key, payload)
)"""

NOTIFY = f"pg_notify('{CHANNEL}', '')"


@dataclass(frozen=True)
class PendingEvent:
    id: int
    topic: str
    key: str
    payload: bytes
    request_id: str | None


def event_params(topic: str, request_id: str | None, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Bind parameters for `EVENTS_CTE`; each event is keyed by its order id in decimal."""
    return {
        "ev_topic": topic,
        "ev_request_id": request_id,
        "ev_keys": [str(e["order_id"]) for e in events],
        "ev_payloads": [orjson.dumps(e).decode() for e in events],
    }


# The lock and the batch in one round trip: no rows at all when another relay holds the lock,
# one row with a NULL id when there is nothing to publish.
#
# The batch's transaction commits without waiting for its WAL to reach the disk
# (`synchronous_commit` off for this transaction only): it only deletes events the broker has
# acknowledged, and if PostgreSQL crashed before the deletion was flushed, the rows would come
# back and be published again, in order, which at-least-once delivery allows anyway (consumers
# deduplicate by `event_id`). The orders' own commits flush the WAL and this deletion with it; the
# relay's ~200 commits per second at 1,000 orders/s no longer each wait for a disk flush of their own.
_LOCK_AND_FETCH = text("""
    WITH publisher AS (
        SELECT pg_try_advisory_xact_lock(:lock_key) AS locked,
               set_config('synchronous_commit', 'off', true) AS commit_mode
    )
    SELECT e.id, e.topic, e.key, e.payload, e.request_id FROM publisher
    LEFT JOIN LATERAL (
        SELECT id, topic, key, payload::text AS payload, request_id FROM outbox ORDER BY id LIMIT :limit
    ) e ON TRUE
    WHERE publisher.locked
""")
# Published events leave the table: the broker keeps them now, and a small table stays fast.
_PUBLISHED = text("DELETE FROM outbox WHERE id = ANY(CAST(:ids AS bigint[]))")

#: Advisory lock key of the publishing relay ("LOMSOUTB" in ASCII).
RELAY_LOCK_KEY = 0x4C4F4D534F555442


async def lock_and_fetch(conn: AsyncConnection, limit: int) -> list[PendingEvent] | None:
    """The oldest unpublished events, holding the publisher lock until the transaction ends (at
    most one relay publishes at a time); None when another relay holds it."""
    rows = (await conn.execute(_LOCK_AND_FETCH, {"lock_key": RELAY_LOCK_KEY, "limit": limit})).all()
    if not rows:
        return None
    return [PendingEvent(r.id, r.topic, r.key, r.payload.encode(), r.request_id) for r in rows if r.id is not None]


_NOTIFY = text(f"SELECT {NOTIFY}")


async def notify(conn: AsyncConnection) -> None:
    """Wake the relays of every process (delivered at commit)."""
    await conn.execute(_NOTIFY)


async def mark_published(conn: AsyncConnection, ids: Sequence[int]) -> None:
    await conn.execute(_PUBLISHED, {"ids": list(ids)})


# SKIP_LOCKED: when autovacuum (or another relay's vacuum) is on the table already, nothing to do.
# TRUNCATE false: giving the emptied pages at the end back to the file system needs an exclusive
# lock on the table, which new orders writing their events would queue behind; and VACUUM keeps
# trying for up to five seconds while they hold it (440 ms per vacuum measured under load).
_VACUUM = text("VACUUM (SKIP_LOCKED, TRUNCATE false) outbox")


async def vacuum(engine: AsyncEngine) -> None:
    """Reclaim the rows of published events (outside any transaction, as VACUUM must run)."""
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(_VACUUM)

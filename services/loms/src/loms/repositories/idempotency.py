"""Stored `Idempotency-Key`s: who used which key on which route, for which request, and the
first answer. The primary key (scope, key) is what detects concurrent duplicates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class StoredKey:
    request_hash: str
    state: str
    response_status: int | None
    response_body: str | None
    resource_id: int | None
    stale: bool


_CLAIM = text("""
    INSERT INTO idempotency_keys (scope, key, request_hash, state)
    VALUES (:scope, :key, :hash, 'running') ON CONFLICT DO NOTHING RETURNING 1
""")
_GET = text("""
    SELECT request_hash, state, response_status, response_body, resource_id,
           state = 'running' AND updated_at < now() - make_interval(secs => :stale_after) AS stale
    FROM idempotency_keys WHERE scope = :scope AND key = :key
""")
_STORED = "SELECT 1 FROM idempotency_keys WHERE scope = $1 AND key = $2"
_FINISH = text("""
    UPDATE idempotency_keys SET state = 'done', response_status = :status, response_body = :body, updated_at = now()
    WHERE scope = :scope AND key = :key
""")
#: Keys deleted per statement of a purge: each batch is a short transaction of its own.
PURGE_BATCH = 5000
_PURGE = text("""
    DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys WHERE created_at < :before LIMIT :limit)
""")


async def claim(conn: AsyncConnection, *, scope: str, key: str, request_hash: str) -> bool:
    return await conn.scalar(_CLAIM, {"scope": scope, "key": key, "hash": request_hash}) is not None


async def get(conn: AsyncConnection, *, scope: str, key: str, stale_after: float) -> StoredKey | None:
    row = (await conn.execute(_GET, {"scope": scope, "key": key, "stale_after": stale_after})).first()
    if row is None:
        return None
    return StoredKey(
        row.request_hash, row.state, row.response_status, row.response_body, row.resource_id, bool(row.stale)
    )


async def stored(conn: asyncpg.Connection, *, scope: str, key: str) -> bool:
    """Whether the key is stored (on a writer connection)."""
    return await conn.fetchval(_STORED, scope, key) is not None


async def finish(conn: AsyncConnection, *, scope: str, key: str, status: int, body: str) -> None:
    await conn.execute(_FINISH, {"scope": scope, "key": key, "status": status, "body": body})


async def purge(conn: AsyncConnection, before: datetime, limit: int = PURGE_BATCH) -> int:
    """Delete up to `limit` keys created before `before`; how many were deleted."""
    result = await conn.execute(_PURGE, {"before": before, "limit": limit})
    return int(result.rowcount or 0)

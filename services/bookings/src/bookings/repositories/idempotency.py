"""Stored `Idempotency-Key`s: the first answer given for a key, in the caller's and route's scope.

The key is claimed in the transaction of the request itself, under a transaction-level advisory
lock on (scope, key): a second request while the first runs finds the lock taken (409), one after
it finds the stored answer; a first request that fails unexpectedly rolls its claim back with
everything else, so a retry runs afresh."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int | None
    body: str | None


_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:scope || chr(10) || :key, 0))")
_CLAIM = text("""
INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (:scope, :key, :hash)
ON CONFLICT DO NOTHING RETURNING 1
""")
_GET = text(
    "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE scope = :scope AND key = :key"
)
_FINISH = text("""
UPDATE idempotency_keys SET response_status = :status, response_body = :body WHERE scope = :scope AND key = :key
""")
_PURGE = text("""
DELETE FROM idempotency_keys WHERE ctid IN (
    SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => :age) LIMIT 5000)
""")


async def lock(conn: AsyncConnection, *, scope: str, key: str) -> bool:
    """False while another transaction works under the same key."""
    return bool(await conn.scalar(_LOCK, {"scope": scope, "key": key}))


async def claim(conn: AsyncConnection, *, scope: str, key: str, request_hash: str) -> StoredAnswer | None:
    """None when the key is new (now claimed); else what was stored for it."""
    if await conn.scalar(_CLAIM, {"scope": scope, "key": key, "hash": request_hash}) is not None:
        return None
    row = (await conn.execute(_GET, {"scope": scope, "key": key})).one()
    return StoredAnswer(row.request_hash, row.response_status, row.response_body)


async def finish(conn: AsyncConnection, *, scope: str, key: str, status: int, body: str) -> None:
    await conn.execute(_FINISH, {"scope": scope, "key": key, "status": status, "body": body})


async def purge(conn: AsyncConnection, *, older_than: float) -> int:
    result = await conn.execute(_PURGE, {"age": older_than})
    return int(result.rowcount or 0)

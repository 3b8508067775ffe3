"""Bookings' `Idempotency-Key`s (the semantics are `shopcommon.idempotency`'s, CONTRACT.md).

A key is claimed in the transaction of the request under an advisory lock on it: a duplicate
while the first runs gets 409 at once, one after it the stored answer. Business refusals (404,
409, 422 of the rules) are answers and are replayed; a 429 is not stored: a rate limit says
"later", and the retry after `Retry-After` must run, not replay the refusal."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bookings.repositories import idempotency as keys
from shopcommon import idempotency as shared
from shopcommon.idempotency import Answer, IdempotencyRequest, KeyInUse, Operation, replay
from shopcommon.problems import TooManyRequests


class KeyStore:
    """Keys claimed under a transaction-level advisory lock."""

    async def claim(self, conn: AsyncConnection, request: IdempotencyRequest) -> Answer | None:
        if not await keys.lock(conn, scope=request.scope, key=request.key):
            raise KeyInUse()
        stored = await keys.claim(conn, scope=request.scope, key=request.key, request_hash=request.request_hash)
        return None if stored is None else replay(request, stored.request_hash, stored.status, stored.body)

    async def finish(self, conn: AsyncConnection, request: IdempotencyRequest, answer: Answer) -> None:
        await keys.finish(conn, scope=request.scope, key=request.key, status=answer.status, body=answer.body.decode())


KEYS = KeyStore()


async def run_once(engine: AsyncEngine, request: IdempotencyRequest | None, operation: Operation) -> Answer:
    """Run `operation` in one transaction, at most once per key."""
    return await shared.run_once(engine, request, operation, KEYS, not_stored=(TooManyRequests,))

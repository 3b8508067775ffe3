"""LOMS's `Idempotency-Key`s (the semantics are `shopcommon.idempotency`'s, CONTRACT.md).

Pay, cancel and stock moves store the key in the transaction of the change itself: a duplicate
waits on the key's primary key for the few milliseconds the first one runs, then replays its
answer. A key left `running` longer than `idempotency_stale_after` (its request presumed dead)
is taken over by the next request with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from loms.repositories import idempotency as keys
from shopcommon import idempotency as shared
from shopcommon.idempotency import Answer, IdempotencyRequest, KeyInUse, KeyReused, Operation, fingerprint, replay

__all__ = [
    "Answer",
    "IdempotencyRequest",
    "KeyInUse",
    "KeyReused",
    "Operation",
    "fingerprint",
    "run_once",
    "stored_answer",
]


def stored_answer(stored: keys.StoredKey | None, request: IdempotencyRequest) -> Answer | None:
    """The replay of a finished request; None when it is running but presumed dead."""
    if stored is None:
        raise KeyInUse("The first request with this key has just failed; retry.")
    if stored.state == "done" and stored.response_status is not None:
        return replay(request, stored.request_hash, stored.response_status, stored.response_body)
    if stored.request_hash != request.request_hash:
        raise KeyReused()
    if stored.stale:
        return None
    raise KeyInUse()


@dataclass(frozen=True)
class KeyStore:
    """Keys claimed by their primary key; a stale `running` key is taken over."""

    stale_after: float

    async def claim(self, conn: AsyncConnection, request: IdempotencyRequest) -> Answer | None:
        if await keys.claim(conn, scope=request.scope, key=request.key, request_hash=request.request_hash):
            return None
        stored = await keys.get(conn, scope=request.scope, key=request.key, stale_after=self.stale_after)
        return stored_answer(stored, request)

    async def finish(self, conn: AsyncConnection, request: IdempotencyRequest, answer: Answer) -> None:
        await keys.finish(conn, scope=request.scope, key=request.key, status=answer.status, body=answer.body.decode())


async def run_once(
    engine: AsyncEngine, request: IdempotencyRequest | None, operation: Operation, *, stale_after: float
) -> Answer:
    """Run `operation` in one transaction, at most once per key."""
    return await shared.run_once(engine, request, operation, KeyStore(stale_after))

"""`Idempotency-Key` semantics (CONTRACT.md): scoped to the caller and the route; the same key
with the same request replays the first answer; with a different request -> 422; while the
first is still running -> 409.

Pay, cancel and stock moves store the key in the transaction of the change itself: a duplicate
waits on the key's primary key for the few milliseconds the first one runs, then replays its
answer. Business refusals (404, 409) are answers too and are replayed; unexpected errors roll
the key back with everything else, so a retry runs afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from loms.repositories import idempotency as keys
from shopcommon.problems import Conflict, ProblemError, UnprocessableEntity, problem_body


@dataclass(frozen=True)
class IdempotencyRequest:
    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    replayed: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, payload: Any, **headers: str) -> Answer:
        return cls(status, orjson.dumps(payload), headers=headers)

    @classmethod
    def of_problem(cls, exc: ProblemError) -> Answer:
        return cls(exc.status, orjson.dumps(problem_body(exc.status, exc.title, exc.detail, exc.slug, **exc.extra)))


class KeyInUse(Conflict):
    title, slug = "Request with this Idempotency-Key still running", "idempotency-key-in-use"


class KeyReused(UnprocessableEntity):
    title, slug = "Idempotency-Key reused with a different request", "idempotency-key-reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was first used with a different request body.",
            errors=[{"field": "Idempotency-Key", "message": "used before with a different request"}],
        )


def fingerprint(payload: Any) -> str:
    """A stable hash of the parsed request: formatting and key order do not matter."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def stored_answer(stored: keys.StoredKey | None, request: IdempotencyRequest) -> Answer | None:
    """The replay of a finished request; None when it is running but presumed dead."""
    if stored is None:
        raise KeyInUse("The first request with this key has just failed; retry.")
    if stored.request_hash != request.request_hash:
        raise KeyReused()
    if stored.state == "done" and stored.response_status is not None:
        return Answer(stored.response_status, (stored.response_body or "").encode(), replayed=True)
    if stored.stale:
        return None
    raise KeyInUse("The first request with this Idempotency-Key is still being processed; retry shortly.")


Operation = Callable[[AsyncConnection], Awaitable[Answer]]


async def run_once(
    engine: AsyncEngine, request: IdempotencyRequest | None, operation: Operation, *, stale_after: float
) -> Answer:
    """Run `operation` in one transaction, at most once per key."""
    if request is None:
        async with engine.begin() as conn:
            return await operation(conn)
    async with engine.begin() as conn:
        if not await keys.claim(conn, scope=request.scope, key=request.key, request_hash=request.request_hash):
            stored = await keys.get(conn, scope=request.scope, key=request.key, stale_after=stale_after)
            replay = stored_answer(stored, request)
            if replay is not None:
                return replay
        try:
            async with conn.begin_nested():
                answer = await operation(conn)
        except ProblemError as exc:
            answer = Answer.of_problem(exc)
        await keys.finish(conn, scope=request.scope, key=request.key, status=answer.status, body=answer.body.decode())
        return answer

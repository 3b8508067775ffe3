"""`Idempotency-Key` semantics (CONTRACT.md): scoped to the caller and the route; the same key
with the same request replays the first answer; with a different request 422; while the first
is still running 409. Business refusals (404, 409, 422 of the rules) are answers too and are
replayed; unexpected errors roll the key back, so a retry runs afresh, and so does a 429: a
rate limit says "later", and the retry after `Retry-After` must run, not replay the refusal."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bookings.repositories import idempotency as keys
from shopcommon.problems import Conflict, ProblemError, TooManyRequests, UnprocessableEntity, problem_body


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

    @classmethod
    def of(cls, status: int, payload: Any) -> Answer:
        return cls(status, orjson.dumps(payload))

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


Operation = Callable[[AsyncConnection], Awaitable[Answer]]


async def run_once(engine: AsyncEngine, request: IdempotencyRequest | None, operation: Operation) -> Answer:
    """Run `operation` in one transaction, at most once per key."""
    async with engine.begin() as conn:
        if request is None:
            return await operation(conn)
        if not await keys.lock(conn, scope=request.scope, key=request.key):
            raise KeyInUse("The first request with this Idempotency-Key is still being processed; retry shortly.")
        stored = await keys.claim(conn, scope=request.scope, key=request.key, request_hash=request.request_hash)
        if stored is not None:
            if stored.request_hash != request.request_hash:
                raise KeyReused()
            return Answer(stored.status or 500, (stored.body or "").encode(), replayed=True)
        try:
            async with conn.begin_nested():
                answer = await operation(conn)
        except TooManyRequests:
            raise
        except ProblemError as exc:
            answer = Answer.of_problem(exc)
        await keys.finish(conn, scope=request.scope, key=request.key, status=answer.status, body=answer.body.decode())
        return answer

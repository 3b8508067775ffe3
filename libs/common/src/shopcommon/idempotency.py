"""`Idempotency-Key` semantics (CONTRACT.md), shared by the services that store their keys in
PostgreSQL: scoped to the caller and the route; the same key with the same request replays the
first answer (`Idempotent-Replayed: true`); with a different request 422; while the first is
still running 409. Business refusals (`ProblemError`s) are answers too and are stored and
replayed; unexpected errors roll the key back with everything else, so a retry runs afresh.

How a key is claimed (an advisory lock, a primary key, a staleness rule) is each service's own
`KeyStore`; running an operation once under it is `run_once`."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shopcommon.auth import Principal
from shopcommon.problems import PROBLEM_MEDIA_TYPE, Conflict, ProblemError, UnprocessableEntity, problem_body

REPLAYED_HEADER = "Idempotent-Replayed"
#: An idempotency key: printable ASCII without spaces, 1..255 characters (the header's schema).
KEY_RULES: dict[str, Any] = {"min_length": 1, "max_length": 255, "pattern": r"^[\x21-\x7e]+$"}


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

    def __init__(
        self, detail: str = "The first request with this Idempotency-Key is still being processed; retry shortly."
    ) -> None:
        super().__init__(detail)


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


def idempotency_request(
    caller: Principal | None, request: Request, key: str | None, payload: Any
) -> IdempotencyRequest | None:
    """The key of a request in its caller's (a guest without a token is one caller) and route's scope."""
    if key is None:
        return None
    who = f"{caller.role}:{caller.subject}" if caller is not None else "guest"
    scope = f"{who} {request.method} {request.url.path}"
    return IdempotencyRequest(scope=scope, key=key, request_hash=fingerprint(payload))


def replay(request: IdempotencyRequest, request_hash: str, status: int | None, body: str | None) -> Answer:
    """The stored answer of an earlier request with this key; 422 when that request was another."""
    if request_hash != request.request_hash:
        raise KeyReused()
    return Answer(status or 500, (body or "").encode(), replayed=True)


def answer_response(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    media_type = PROBLEM_MEDIA_TYPE if answer.status >= 400 else "application/json"
    out = {**answer.headers, **(headers or {})}
    if answer.replayed:
        out[REPLAYED_HEADER] = "true"
    return Response(answer.body, status_code=answer.status, media_type=media_type, headers=out)


Operation = Callable[[AsyncConnection], Awaitable[Answer]]


class KeyStore(Protocol):
    """Where a service keeps its keys, inside the transaction of the request itself."""

    async def claim(self, conn: AsyncConnection, request: IdempotencyRequest) -> Answer | None:
        """None when this request now runs under the key; else the replay of the first answer
        (or `KeyInUse`/`KeyReused`)."""

    async def finish(self, conn: AsyncConnection, request: IdempotencyRequest, answer: Answer) -> None:
        """Store the answer under the claimed key."""


async def answer_of(
    conn: AsyncConnection, operation: Operation, *, not_stored: tuple[type[ProblemError], ...] = ()
) -> Answer:
    """The operation's answer; a refusal is one too, its changes rolled back to a savepoint.
    Refusals of the `not_stored` kinds propagate (the key with the rest of the transaction)."""
    try:
        async with conn.begin_nested():
            return await operation(conn)
    except not_stored:
        raise
    except ProblemError as exc:
        return Answer.of_problem(exc)


async def run_once(
    engine: AsyncEngine,
    request: IdempotencyRequest | None,
    operation: Operation,
    keys: KeyStore,
    *,
    not_stored: tuple[type[ProblemError], ...] = (),
) -> Answer:
    """Run `operation` in one transaction, at most once per key."""
    async with engine.begin() as conn:
        if request is None:
            return await operation(conn)
        replayed = await keys.claim(conn, request)
        if replayed is not None:
            return replayed
        answer = await answer_of(conn, operation, not_stored=not_stored)
        await keys.finish(conn, request, answer)
        return answer

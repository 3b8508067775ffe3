"""`shopcommon.idempotency`: an operation runs at most once per key, in the transaction that
stores the key; refusals are answers (stored, replayed, their changes undone), other errors and
the `not_stored` refusals roll the key back with everything else."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import Request

from shopcommon.auth import Principal, Role
from shopcommon.db import make_engine
from shopcommon.devstack.databases import create_database
from shopcommon.idempotency import (
    REPLAYED_HEADER,
    Answer,
    IdempotencyRequest,
    KeyInUse,
    KeyReused,
    Operation,
    answer_response,
    fingerprint,
    idempotency_request,
    replay,
    run_once,
)
from shopcommon.problems import Conflict, TooManyRequests
from shopcommon.testing.plugin import Stack

DDL = [
    "CREATE TABLE keys (key text PRIMARY KEY, request_hash text NOT NULL, status int, body text)",
    "CREATE TABLE things (name text NOT NULL)",
]


class TableKeys:
    """A key store on a plain table, claimed by its primary key."""

    async def claim(self, conn: AsyncConnection, request: IdempotencyRequest) -> Answer | None:
        params = {"key": request.key, "hash": request.request_hash}
        claimed = await conn.scalar(
            text("INSERT INTO keys VALUES (:key, :hash) ON CONFLICT DO NOTHING RETURNING 1"), params
        )
        if claimed is not None:
            return None
        row = (await conn.execute(text("SELECT * FROM keys WHERE key = :key"), params)).one()
        return replay(request, row.request_hash, row.status, row.body)

    async def finish(self, conn: AsyncConnection, request: IdempotencyRequest, answer: Answer) -> None:
        params = {"key": request.key, "status": answer.status, "body": answer.body.decode()}
        await conn.execute(text("UPDATE keys SET status = :status, body = :body WHERE key = :key"), params)


@pytest.fixture
async def engine(shop_stack: Stack) -> AsyncIterator[AsyncEngine]:
    url = await create_database(shop_stack.urls.database_url, f"idem_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url, pool_size=2)
    async with engine.begin() as conn:
        for statement in DDL:
            await conn.exec_driver_sql(statement)
    yield engine
    await engine.dispose()


async def things(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.scalars(text("SELECT name FROM things ORDER BY name"))).all())


def adding(name: str, refusal: Exception | None = None) -> Operation:
    async def operation(conn: AsyncConnection) -> Answer:
        await conn.execute(text("INSERT INTO things VALUES (:name)"), {"name": name})
        if refusal is not None:
            raise refusal
        return Answer.of(201, {"name": name})

    return operation


def request(key: str, payload: object) -> IdempotencyRequest:
    return IdempotencyRequest("customer:1 POST /things", key, fingerprint(payload))


async def test_the_same_request_runs_once_and_replays_its_answer(engine: AsyncEngine) -> None:
    first = await run_once(engine, request("k1", {"a": 1, "b": 2}), adding("one"), TableKeys())
    again = await run_once(engine, request("k1", {"b": 2, "a": 1}), adding("one"), TableKeys())
    assert (first.status, first.replayed, again.status, again.replayed) == (201, False, 201, True)
    assert again.body == first.body == orjson.dumps({"name": "one"})
    assert await things(engine) == ["one"]
    with pytest.raises(KeyReused):
        await run_once(engine, request("k1", {"a": 2}), adding("two"), TableKeys())
    assert await things(engine) == ["one"]


async def test_a_refusal_is_stored_and_its_changes_undone(engine: AsyncEngine) -> None:
    refused = await run_once(engine, request("k2", {}), adding("x", Conflict("taken", slug="taken")), TableKeys())
    replayed = await run_once(engine, request("k2", {}), adding("x"), TableKeys())
    assert (refused.status, replayed.status, replayed.replayed) == (409, 409, True)
    assert orjson.loads(replayed.body)["detail"] == "taken"
    assert await things(engine) == []


async def test_a_not_stored_refusal_and_an_error_leave_the_key_unused(engine: AsyncEngine) -> None:
    with pytest.raises(TooManyRequests):
        await run_once(
            engine, request("k3", {}), adding("x", TooManyRequests(5)), TableKeys(), not_stored=(TooManyRequests,)
        )
    with pytest.raises(RuntimeError):
        await run_once(engine, request("k3", {}), adding("x", RuntimeError("boom")), TableKeys())
    answer = await run_once(engine, request("k3", {}), adding("y"), TableKeys())
    assert (answer.status, answer.replayed) == (201, False)
    assert await things(engine) == ["y"]


async def test_without_a_key_every_request_runs(engine: AsyncEngine) -> None:
    await run_once(engine, None, adding("a"), TableKeys())
    await run_once(engine, None, adding("a"), TableKeys())
    assert await things(engine) == ["a", "a"]


def test_the_scope_is_the_caller_and_the_route() -> None:
    scope = {"type": "http", "method": "POST", "path": "/api/v1/things", "headers": [], "query_string": b""}
    manager = Principal(subject="7", role=Role.MANAGER)
    made = idempotency_request(manager, Request(scope), "k", {"a": 1})
    assert made == IdempotencyRequest("manager:7 POST /api/v1/things", "k", fingerprint({"a": 1}))
    guest = idempotency_request(None, Request(scope), "k", {"a": 1})
    assert guest is not None and guest.scope == "guest POST /api/v1/things"
    assert idempotency_request(manager, Request(scope), None, {"a": 1}) is None


def test_a_replayed_answer_says_so_and_keeps_its_media_type() -> None:
    problem = answer_response(Answer(409, b"{}", replayed=True), {"Vary": "Prefer"})
    fresh = answer_response(Answer.of(201, {"ok": 1}, Location="/x"))
    assert (problem.headers[REPLAYED_HEADER], problem.headers["vary"]) == ("true", "Prefer")
    assert problem.media_type == "application/problem+json"
    assert REPLAYED_HEADER not in fresh.headers and fresh.headers["location"] == "/x"
    assert KeyInUse().detail.startswith("The first request with this Idempotency-Key is still being processed")

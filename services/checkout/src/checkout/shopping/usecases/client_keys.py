"""A client's `Idempotency-Key` on checkout's order routes, kept in Redis (CONTRACT.md): the same
key with the same request replays the first answer, without asking ProductService or LOMS again
(today's prices may differ from those the order was made at); with another request it is 422; while
the first request still runs it is 409.

A key is claimed `running` (with a token, for `RUNNING_TTL` seconds, so a crashed request frees it)
and becomes `done` with its answer for `REPLAY_TTL`. A request that fails (a 409 for stock, LOMS
unreachable) frees its key: a retry runs afresh, and LOMS, which keeps its own key for the order,
replays the order it made."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import RedisError

from checkout.shopping.deps import ClientKey
from checkout.shopping.lifespan import Shopping
from checkout.shopping.order_status import OrderStatus
from checkout.shopping.redis_guard import RELEASE_IF_OWNER, redis_failures_are_503
from checkout.shopping.schemas import CheckoutResult
from shopcommon.idempotency import KeyInUse, KeyReused, fingerprint

log = logging.getLogger(__name__)

#: How long a running request holds its key: longer than the slowest order (ProductService's rate
#: limit wait, LOMS's `Prefer: wait` and its timeouts), seconds.
RUNNING_TTL = 120
#: How long a key replays its answer, seconds (LOMS keeps its keys a day).
REPLAY_TTL = 86_400
#: How often a request waiting for the first one with its key looks again, seconds.
WAIT_STEP = 0.1


async def once(
    shop: Shopping,
    client_key: ClientKey | None,
    user_id: int,
    request: Any,
    run: Callable[[], Awaitable[CheckoutResult]],
    *,
    wait: float = 0.0,
) -> CheckoutResult:
    """`run()`'s answer, or the answer the first request with this key got. While the first still
    runs: 409, or, with `wait` (a web form pressed twice), its answer once it comes within `wait`
    seconds. An order still `new` is not an answer to keep: a retry asks LOMS again, which replays
    the order as it stands then."""
    if client_key is None:
        return await run()
    name = f"{shop.redis_prefix}checkout-replay:{client_key.scoped()}"
    token, this = secrets.token_hex(16), fingerprint([user_id, request])
    replay = await _claim(shop, name, _Claim(user_id, this, token), wait)
    if replay is not None:
        return replay
    try:
        result = await run()
    except BaseException:
        await _release(shop, name, token)
        raise
    if result.status == OrderStatus.NEW or not await _keep(shop, name, user_id, this, result):
        await _release(shop, name, token)
    return result


@dataclass(frozen=True)
class _Claim:
    user_id: int
    request: str
    token: str


async def _keep(shop: Shopping, name: str, user_id: int, request: str, result: CheckoutResult) -> bool:
    done = orjson.dumps({"state": "done", "user_id": user_id, "request": request, "result": result.model_dump()})
    for _ in range(2):
        try:
            await shop.redis.set(name, done, ex=REPLAY_TTL)
            return True
        except RedisError:
            log.warning("could not remember the answer under checkout key %s", name, exc_info=True)
    # Freed instead: a retry runs again, and LOMS replays a cart's order while the cart still holds it.
    return False


async def _claim(shop: Shopping, name: str, claim: _Claim, wait: float) -> CheckoutResult | None:
    """None once the key is ours; the first request's answer when it has one."""
    running = orjson.dumps({"state": "running", "user_id": claim.user_id, "request": claim.request,
                            "token": claim.token})  # fmt: skip
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        with redis_failures_are_503():
            if await shop.redis.set(name, running, nx=True, ex=RUNNING_TTL):
                return None
            raw = await shop.redis.get(name)
        if raw is not None:  # else it expired or was freed since: claim it again
            record = orjson.loads(raw)
            if "state" not in record:  # kept before keys named their request: `{user_id, result}`
                same_user = record.get("user_id") == claim.user_id
                record = {"state": "done", "request": claim.request if same_user else None, "result": record["result"]}
            if record.get("request") != claim.request:
                raise KeyReused()
            if record.get("state") == "done":
                return CheckoutResult.model_validate(record["result"])
            if asyncio.get_running_loop().time() >= deadline:
                raise KeyInUse()
            await asyncio.sleep(WAIT_STEP)


async def _release(shop: Shopping, name: str, token: str) -> None:
    try:
        current = await shop.redis.get(name)
        if current is not None and orjson.loads(current).get("token") == token:
            await shop.redis.eval(RELEASE_IF_OWNER, 1, name, current)  # unless it changed meanwhile
    except RedisError:
        log.warning("could not free checkout key %s; it frees itself in %d s", name, RUNNING_TTL, exc_info=True)

"""Sliding-window rate limits in Redis, shared by every replica.

One Lua script checks every bucket of an attempt (the caller's IP and the account it aims at)
and records the attempt in all of them, atomically: two replicas can never both let the
eleventh attempt through. A blocked attempt is not recorded, so hammering a closed door does
not keep it closed longer than the window.

Limits on failures (wrong passwords, wrong codes) record the attempt *before* it is checked and
take it back out when it succeeds. Checking first and recording after would let every request
that arrives while the first ones are still being verified slip past the check.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopcommon.problems import ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)

# KEYS: one sorted set per bucket. ARGV: the attempt's member, then a limit and a window (ms) per
# key. Records the attempt in every bucket when each has room and returns 0; else records nothing
# and returns the milliseconds until the fullest bucket frees a slot.
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait == 0 then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[1])
    redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
  end
end
return wait
"""


@dataclass(frozen=True)
class Bucket:
    """One limited dimension of an attempt, e.g. ("login:ip", "203.0.113.7", 10).

    `window` (seconds) overrides the limiter's own, for allowances counted over a day."""

    scope: str
    subject: str
    limit: int
    window: int | None = None

    def key(self, prefix: str) -> str:
        # Hashed so arbitrary user input never shapes the key; the scope stays readable.
        digest = hashlib.sha256(self.subject.lower().encode()).hexdigest()[:32]
        return f"{prefix}ratelimit:{self.scope}:{digest}"


@dataclass(frozen=True)
class Attempt:
    """A recorded attempt: the keys it is counted in, under its own member."""

    keys: tuple[str, ...]
    member: str


class RateLimiter:
    def __init__(self, redis: Redis, window_seconds: int, *, prefix: str = "") -> None:
        self.redis = redis
        self.window_ms = window_seconds * 1000
        self.prefix = prefix
        self._script = redis.register_script(SLIDING_WINDOW_LUA)

    async def hit(self, *buckets: Bucket) -> Attempt:
        """Count an attempt in every bucket, or raise 429 without counting it when one is full."""
        live = [b for b in buckets if b.limit > 0]  # a limit of 0 turns that bucket off
        attempt = Attempt(tuple(b.key(self.prefix) for b in live), uuid.uuid4().hex)
        if not live:
            return attempt
        args: list[str | int] = [attempt.member]
        for b in live:
            args += [b.limit, b.window * 1000 if b.window else self.window_ms]
        try:
            wait_ms = int(await self._script(keys=list(attempt.keys), args=args))
        except RedisError as exc:
            raise ServiceUnavailable("The rate limiter is unavailable; try again shortly.") from exc
        if wait_ms > 0:
            raise TooManyRequests(math.ceil(wait_ms / 1000), "Too many attempts; try again later.")
        return attempt

    async def forget(self, attempt: Attempt) -> None:
        """Take a recorded attempt back out of its buckets."""
        if not attempt.keys:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in attempt.keys:
                    pipe.zrem(key, attempt.member)
                await pipe.execute()
        except RedisError:  # the attempt succeeded all the same; its slot frees itself with the window
            log.warning("could not take a successful attempt out of its rate-limit window", exc_info=True)

    @asynccontextmanager
    async def counting_failures(self, *buckets: Bucket) -> AsyncIterator[None]:
        """Run the block as one counted attempt (429 before it runs when a bucket is full); an
        exception out of the block leaves it counted, a normal exit takes it back out."""
        attempt = await self.hit(*buckets)
        yield
        await self.forget(attempt)

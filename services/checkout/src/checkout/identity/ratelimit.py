"""Sliding-window rate limits in Redis, shared by every replica.

One Lua script checks every bucket of an attempt (the caller's IP and the account it aims at)
and records the attempt in all of them, atomically: two replicas can never both let the
eleventh attempt through. A blocked attempt is not recorded, so hammering a closed door does
not keep it closed longer than the window.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shopcommon.problems import ServiceUnavailable, TooManyRequests

# KEYS: one sorted set per bucket. ARGV: window (ms), mode, member, then one limit per key.
# Modes: 'check' records nothing, 'hit' records the attempt when every bucket has room, 'add'
# records it regardless (a failure that already happened). Returns 0 when every bucket had room,
# else the milliseconds until the fullest bucket frees a slot.
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if ARGV[2] == 'add' or (ARGV[2] == 'hit' and wait == 0) then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[3])
    redis.call('PEXPIRE', key, window)
  end
end
return wait
"""


@dataclass(frozen=True)
class Bucket:
    """One limited dimension of an attempt, e.g. ("login:ip", "203.0.113.7", 10)."""

    scope: str
    subject: str
    limit: int

    def key(self, prefix: str) -> str:
        # Hashed so arbitrary user input never shapes the key; the scope stays readable.
        digest = hashlib.sha256(self.subject.lower().encode()).hexdigest()[:32]
        return f"{prefix}ratelimit:{self.scope}:{digest}"


class RateLimiter:
    def __init__(self, redis: Redis, window_seconds: int, *, prefix: str = "") -> None:
        self.window_ms = window_seconds * 1000
        self.prefix = prefix
        self._script = redis.register_script(SLIDING_WINDOW_LUA)

    async def _run(self, buckets: list[Bucket], mode: str) -> int:
        live = [b for b in buckets if b.limit > 0]  # a limit of 0 turns that bucket off
        if not live:
            return 0
        args: list[str | int] = [self.window_ms, mode, uuid.uuid4().hex, *(b.limit for b in live)]
        try:
            return int(await self._script(keys=[b.key(self.prefix) for b in live], args=args))
        except RedisError as exc:
            raise ServiceUnavailable("The rate limiter is unavailable; try again shortly.") from exc

    async def hit(self, *buckets: Bucket) -> None:
        """Count an attempt in every bucket, or raise 429 without counting it when one is full."""
        self._raise_if_waiting(await self._run(list(buckets), "hit"))

    async def check(self, *buckets: Bucket) -> None:
        """Raise 429 when a bucket is full, counting nothing (for limits on failures only)."""
        self._raise_if_waiting(await self._run(list(buckets), "check"))

    async def add(self, *buckets: Bucket) -> None:
        """Record a failed attempt in every bucket; the next `check` answers for it."""
        await self._run(list(buckets), "add")

    @staticmethod
    def _raise_if_waiting(wait_ms: int) -> None:
        if wait_ms > 0:
            raise TooManyRequests(math.ceil(wait_ms / 1000), "Too many attempts; try again later.")

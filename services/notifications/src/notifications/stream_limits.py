"""How many live streams may be open: per user (across every replica) and per process.

Each open stream holds a permit. A user's permits are leases in a Redis sorted set (member: the
stream's id, score: when the lease runs out, in Redis's own clock), taken by a script that drops
expired leases and counts in one step, so concurrent requests on any replica cannot overshoot. A
stream renews its lease while it runs and gives it back when it ends, whatever ends it; a
replica that dies without giving its leases back loses them when they run out. The process's
own count is a plain counter: the event loop runs one request at a time between awaits.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from shopcommon.problems import ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)

KEY_PREFIX = "notifications:streams:"
#: What a refused client is told to wait: about how long a closed stream takes to be noticed.
RETRY_AFTER_SECONDS = 10
#: Redis calls on the way out are bounded: a stream must end even when Redis does not answer.
RELEASE_TIMEOUT_SECONDS = 2.0

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class StreamPermit:
    def __init__(self, limiter: StreamLimiter, user_id: int) -> None:
        self.limiter = limiter
        self.user_id = user_id
        self.stream_id = uuid.uuid4().hex
        self.released = False
        self._renewed_at = asyncio.get_running_loop().time()

    @property
    def key(self) -> str:
        return f"{self.limiter.prefix}{self.user_id}"

    async def keep_alive(self) -> None:
        """Renew the lease when a third of it has gone by (called as the stream goes on)."""
        now = asyncio.get_running_loop().time()
        if self.released or now - self._renewed_at < self.limiter.lease_seconds / 3:
            return
        self._renewed_at = now
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_SECONDS):
                await self.limiter.renew_script(keys=[self.key], args=[self.limiter.lease_ms, self.stream_id])
        except (RedisError, OSError, TimeoutError) as exc:  # the stream goes on; the lease may lapse
            log.warning("could not renew a stream lease: %s", exc)

    async def release(self) -> None:
        await self.limiter.release(self)


class StreamLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        per_user: int,
        per_process: int,
        lease_seconds: float = 30.0,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.redis = redis
        self.per_user = per_user
        self.per_process = per_process
        self.lease_seconds = lease_seconds
        self.prefix = prefix
        self.acquire_script = redis.register_script(_ACQUIRE)
        self.renew_script = redis.register_script(_RENEW)
        self._permits: set[StreamPermit] = set()

    @property
    def lease_ms(self) -> int:
        return int(self.lease_seconds * 1000)

    @property
    def open_streams(self) -> int:
        return len(self._permits)

    async def acquire(self, user_id: int) -> StreamPermit:
        """A permit for one more stream of `user_id`; 429 when the user or this process has enough."""
        if len(self._permits) >= self.per_process:
            raise TooManyRequests(
                RETRY_AFTER_SECONDS, "This server has as many live streams open as it serves; try again shortly"
            )
        permit = StreamPermit(self, user_id)
        self._permits.add(permit)  # counted before the first await: concurrent requests see it
        try:
            granted = await self.acquire_script(
                keys=[permit.key], args=[self.lease_ms, self.per_user, permit.stream_id]
            )
        except (RedisError, OSError) as exc:
            self._permits.discard(permit)
            raise ServiceUnavailable(
                "The live stream is unavailable right now", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            ) from exc
        except BaseException:
            self._permits.discard(permit)
            raise
        if not granted:
            self._permits.discard(permit)
            raise TooManyRequests(
                RETRY_AFTER_SECONDS,
                f"At most {self.per_user} live streams per user; close one (another tab or device) first",
                limit=self.per_user,
            )
        return permit

    async def release(self, permit: StreamPermit) -> None:
        """Give the permit back; again is harmless."""
        if permit.released:
            return
        permit.released = True
        self._permits.discard(permit)
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_SECONDS):
                await self.redis.zrem(permit.key, permit.stream_id)
        except (RedisError, OSError, TimeoutError) as exc:  # the lease runs out by itself
            log.warning("could not give back a stream lease: %s", exc)

    async def release_all(self) -> None:
        """On shutdown: whatever streams are still open give their leases back."""
        for permit in list(self._permits):
            await self.release(permit)


class PermittedEventSourceResponse(EventSourceResponse):
    """An SSE stream that gives its permit back when the response ends: finished, failed,
    cancelled (client gone, server shutting down), or never started."""

    def __init__(self, content: AsyncIterable[Any], *, permit: StreamPermit, **kw: Any) -> None:
        super().__init__(content, **kw)
        self.permit = permit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Shielded: a second cancellation must not cut the give-back short (the count in this
            # process drops at once anyway; the Redis lease would run out by itself).
            await asyncio.shield(self.permit.release())

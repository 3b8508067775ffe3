"""Limits shared by every checkout replica: GCRA in Lua scripts on Redis.

`SharedRateLimiter` paces checkout's requests to ProductService: each caller reserves the next free
slot and is told how long to sleep until it; callers are served in arrival order and nobody polls.
A slot further away than `max_wait` is refused, not reserved. `LookupQuota` bounds what one caller
of checkout may make it spend there: beyond the quota it is refused at once (429), never queued.
Time comes from the Redis server, so replicas with skewed clocks still agree.
"""

from __future__ import annotations

import asyncio
import math

from redis.asyncio import Redis

from shopcommon.problems import TooManyRequests

# KEYS[1]: the theoretical arrival time (TAT) of the next request, microseconds.
# ARGV[1]: emission interval (1/rate), us; ARGV[2]: burst tolerance, us; ARGV[3]: longest wait, us.
# Returns the microseconds to wait for the reserved slot, or -(wait) when refused.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return -wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return wait
"""


class RateLimitExceeded(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"no rate-limit slot within the allowed wait ({retry_after:.2f}s away)")
        self.retry_after = retry_after


class SharedRateLimiter:
    def __init__(self, redis: Redis, key: str, *, rate: float, burst: int = 1, max_wait: float = 10.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = key
        self.interval_us = int(1_000_000 / rate)
        self.tolerance_us = self.interval_us * max(0, burst - 1)
        self.max_wait_us = int(max_wait * 1_000_000)
        self._script = redis.register_script(_GCRA)

    async def reserve(self) -> float:
        """Seconds until this caller's slot; raises RateLimitExceeded when too far away."""
        wait_us = int(await self._script(keys=[self.key], args=[self.interval_us, self.tolerance_us, self.max_wait_us]))
        if wait_us < 0:
            raise RateLimitExceeded(-wait_us / 1_000_000)
        return wait_us / 1_000_000

    async def acquire(self) -> None:
        """Wait for a slot."""
        wait = await self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    @staticmethod
    def retry_after(exc: RateLimitExceeded) -> int:
        return max(1, math.ceil(exc.retry_after))


# The same GCRA, seen as a bucket of `quota` lookups refilled over a minute: a request costing `cost`
# passes while the bucket holds that many, and is refused (never queued) otherwise.
# KEYS[1]: the caller's TAT, us. ARGV[1]: us per lookup; ARGV[2]: the bucket's size; ARGV[3]: cost.
# Returns 0 when charged, or the microseconds until the bucket holds `cost` again.
_QUOTA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * tonumber(ARGV[3])
local wait = new_tat - interval * tonumber(ARGV[2]) - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


class TooManyLookups(TooManyRequests):
    title, slug = "Too many product lookups", "product-lookup-quota"


class LookupQuota:
    """Lookups per minute one caller may cause (a user, or an anonymous client's address).

    A request needing more than the whole quota is charged the whole quota: it passes once the
    bucket is full, so a large honest cart is slowed, never refused for good.
    """

    def __init__(self, redis: Redis, prefix: str, *, per_minute: int) -> None:
        self.prefix = prefix
        self.per_minute = per_minute
        self.interval_us = int(60_000_000 / per_minute) if per_minute > 0 else 0
        self._script = redis.register_script(_QUOTA)

    async def charge(self, caller: str, lookups: int) -> None:
        """Take `lookups` from the caller's bucket, or raise TooManyLookups (429 with Retry-After)."""
        if self.per_minute <= 0 or lookups <= 0:
            return
        cost = min(lookups, self.per_minute)
        key = f"{self.prefix}{caller}"
        wait_us = int(await self._script(keys=[key], args=[self.interval_us, self.per_minute, cost]))
        if wait_us > 0:
            retry_after = max(1, math.ceil(wait_us / 1_000_000))
            raise TooManyLookups(
                retry_after,
                f"Too many lookups of skus the catalogue listing does not vouch for "
                f"({self.per_minute} a minute); try again in {retry_after} s",
                quota_per_minute=self.per_minute,
            )

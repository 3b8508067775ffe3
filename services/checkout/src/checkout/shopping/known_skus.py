"""Which skus exist, from ProductService's own listing (`/list_skus`), kept in Redis for every replica.

ProductService's budget (10 requests a second for the whole shop) must not be spent on skus that
do not exist. A sku missing from a listing younger than `max_age` is unknown without a call. A sku
missing from an older listing refreshes it: one `/list_skus` request per `page_size` skus, through
the shared rate limit, made by one caller in this process (a lock) and in the deployment (a Redis
lock) while the others wait for its result. However many unknown skus arrive, they cost at most
one listing per `max_age`; and a product created since the last listing is known within `max_age`.

A sku that is listed is vouched for: its name and price still come from `/get_product` (cached).
When no listing can be had (ProductService failing or refusing), the verdict is "cannot tell" and
the caller falls back to per-sku lookups under the per-caller quota. A failed refresh is remembered
for `failure_hold` seconds, so an outage is not asked again by every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from checkout.shopping.redis_guard import RELEASE_IF_OWNER
from shopcommon.problems import ServiceUnavailable

log = logging.getLogger(__name__)

#: `(after, count)` -> up to `count` skus greater than `after`, ascending.
Lister = Callable[[int, int], Awaitable[list[int]]]
#: How long the listing is kept at all: a listing older than `max_age` still vouches for its skus.
KEEP_SECONDS = 86_400


@dataclass(frozen=True)
class Verdicts:
    #: In the listing: these exist (or did when it was taken).
    known: frozenset[int]
    #: Missing from a listing younger than `max_age`: these do not exist.
    unknown: frozenset[int]
    #: When the listing these come from was taken (epoch seconds; 0 without one).
    listed_at: float = 0.0


class KnownSkus:
    def __init__(
        self,
        redis: Redis,
        lister: Lister,
        *,
        prefix: str,
        max_age: float,
        page_size: int = 10_000,
        lock_ttl: float = 30.0,
        failure_hold: float = 5.0,
    ) -> None:
        self.redis = redis
        self.lister = lister
        self.max_age = max_age
        self.page_size = page_size
        self.lock_ttl_ms = max(1000, int(lock_ttl * 1000))
        self.failure_hold_ms = max(1, int(failure_hold * 1000))
        self._set = f"{prefix}known-skus"
        self._at = f"{prefix}known-skus:at"
        self._lock_key = f"{prefix}known-skus:lock"
        self._failed = f"{prefix}known-skus:failed"
        self._lock = asyncio.Lock()
        self._release = redis.register_script(RELEASE_IF_OWNER)

    async def classify(self, skus: list[int]) -> Verdicts:
        """Known, unknown, and (the rest) cannot tell; refreshes the listing first when it is too
        old to say that a sku it lacks does not exist."""
        if self.max_age <= 0 or not skus:
            return Verdicts(frozenset(), frozenset())
        members, listed_at = await self._look(skus)
        absent = [s for s in skus if s not in members]
        if absent and not self._fresh(listed_at):
            await self._refresh(seen=listed_at)
            more, listed_at = await self._look(absent)
            members |= more
            absent = [s for s in absent if s not in more]
        unknown = frozenset(absent) if self._fresh(listed_at) else frozenset()
        return Verdicts(frozenset(members), unknown, listed_at or 0.0)

    async def gone(self, skus: list[int]) -> frozenset[int]:
        """The skus a listing younger than `max_age` (taken now when the one kept is older) does not
        list: taken out of the catalogue since someone saw them. Empty when no such listing can be
        had: the caller cannot tell, and goes on."""
        if self.max_age <= 0 or not skus:
            return frozenset()
        members, listed_at = await self._look(skus)
        if not self._fresh(listed_at):
            await self._refresh(seen=listed_at)
            members, listed_at = await self._look(skus)
        if not self._fresh(listed_at):
            return frozenset()
        return frozenset(s for s in skus if s not in members)

    def _fresh(self, listed_at: float | None) -> bool:
        return listed_at is not None and time.time() - listed_at < self.max_age

    async def _look(self, skus: list[int]) -> tuple[set[int], float | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smismember(self._set, skus)
            pipe.get(self._at)
            flags, at = await pipe.execute()
        return {sku for sku, flag in zip(skus, flags, strict=True) if flag}, _seconds(at)

    async def _refresh(self, *, seen: float | None) -> None:
        async with self._lock:
            at, failed = await self.redis.mget([self._at, self._failed])
            if _seconds(at) != seen or failed is not None:
                return  # refreshed while we waited for the lock, or failing: do not ask again now
            owner = uuid.uuid4().hex
            if not await self.redis.set(self._lock_key, owner, nx=True, px=self.lock_ttl_ms):
                await self._wait_for_other_replica(seen)
                return
            try:
                await self._list_and_store(owner)
            except ServiceUnavailable as exc:
                log.warning("could not list ProductService's skus: %s", exc.detail)
                await self.redis.set(self._failed, exc.detail, px=self.failure_hold_ms)
            finally:
                await self._release(keys=[self._lock_key], args=[owner])

    async def _wait_for_other_replica(self, seen: float | None) -> None:
        deadline = time.monotonic() + self.lock_ttl_ms / 1000
        pause = 0.01
        while time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
            at, holder = await self.redis.mget([self._at, self._lock_key])
            if _seconds(at) != seen or holder is None:
                return

    async def _list_and_store(self, owner: str) -> None:
        """Build the new listing beside the old one and swap it in at once: readers never see half."""
        started = time.time()
        building = f"{self._set}:building:{owner}"
        after, total = 0, 0
        try:
            while True:
                page = [sku for sku in await self.lister(after, self.page_size) if sku > after]
                if page:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        pipe.sadd(building, *page)
                        pipe.pexpire(building, self.lock_ttl_ms)
                        pipe.pexpire(self._lock_key, self.lock_ttl_ms)
                        await pipe.execute()
                    total += len(page)
                    after = max(page)
                if len(page) < self.page_size:
                    break
            async with self.redis.pipeline(transaction=True) as pipe:
                if total:
                    pipe.rename(building, self._set)
                    pipe.expire(self._set, KEEP_SECONDS)
                else:
                    pipe.delete(self._set)
                pipe.set(self._at, repr(started), ex=KEEP_SECONDS)
                pipe.delete(self._failed)
                await pipe.execute()
        finally:
            await self.redis.delete(building)
        log.info("listed %d skus of ProductService", total)


def _seconds(raw: bytes | str | None) -> float | None:
    return None if raw is None else float(raw)

"""The ProductService client: names and prices of skus, via route256's `/get_product`.

The real service is slow and rate limited, so every lookup goes through, in order:
1. the Redis cache (a hit costs no request), names and prices for a minute, "no such sku" for five;
   a product read in its second half is served and fetched again in the background (one fetch
   per sku across replicas), so the skus people keep looking at never expire under them and no
   request waits for the rate-limited refill;
2. the sku listing (`known_skus`): a sku it does not list is unknown without a request; a sku it
   cannot vouch for (no listing to be had) is charged to the caller's quota (`LookupQuota`);
3. single flight: one caller per sku fetches, in this process (a shared future) and across
   replicas (a Redis lock); the others wait for its answer in the cache;
4. the shared rate limit (GCRA in Redis), then the request itself, with a timeout, retried on
   420, 429, 5xx and network errors with exponential backoff and full jitter.
A failure is cached for a moment too, so waiters get the same answer and an outage answers fast.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis

from checkout.shopping.errors import ProductServiceUnavailable
from checkout.shopping.known_skus import KnownSkus, Verdicts
from checkout.shopping.product_service import ProductInfo, ProductService, Retries
from checkout.shopping.ratelimit import LookupQuota, SharedRateLimiter
from checkout.shopping.redis_guard import RELEASE_IF_OWNER, redis_failures_are_503

__all__ = ["ProductClient", "ProductClientConfig", "ProductInfo", "ProductServiceUnavailable"]

log = logging.getLogger(__name__)

#: How long a failure stays cached: waiters share it and new callers fail fast during an outage.
_FAILURE_TTL_MS = 1000


@dataclass(frozen=True)
class ProductClientConfig:
    token: str
    cache_ttl: float = 60.0
    #: A cached product older than this is fetched again in the background when read (0: never).
    refresh_after: float = 30.0
    #: How long a "no such sku" answer stays cached (a later listing that names the sku overrides it).
    missing_ttl: float = 300.0
    #: How long a listing of ProductService's skus may say "no such sku" (0: no listing).
    known_skus_max_age: float = 10.0
    #: Skus per `/list_skus` request: ProductService's largest page (a shorter one ends the listing).
    list_page: int = 10_000
    #: Lookups a minute one caller may cause of skus the listing cannot vouch for (0: no quota).
    lookup_quota: int = 20
    tries: int = 3
    timeout: float = 2.0
    backoff: float = 0.1
    backoff_max: float = 2.0
    concurrency: int = 5
    prefix: str = "checkout:"


class ProductClient:
    def __init__(
        self, http: httpx.AsyncClient, redis: Redis, limiter: SharedRateLimiter, config: ProductClientConfig
    ) -> None:
        self.http = http
        self.redis = redis
        self.limiter = limiter
        self.config = config
        retries = Retries(
            tries=config.tries, timeout=config.timeout, backoff=config.backoff, backoff_max=config.backoff_max
        )
        self.service = ProductService(http, limiter, token=config.token, retries=retries)
        self._inflight: dict[int, asyncio.Future[ProductInfo | None]] = {}
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        self._release = redis.register_script(RELEASE_IF_OWNER)
        self.known = KnownSkus(
            redis,
            self.service.list_skus,
            prefix=config.prefix,
            max_age=config.known_skus_max_age,
            page_size=config.list_page,
            lock_ttl=self.service.longest_call() * 2,
            failure_hold=min(5.0, config.known_skus_max_age),
        )
        self.quota = LookupQuota(redis, f"{config.prefix}lookup-quota:", per_minute=config.lookup_quota)

    def _key(self, sku: int) -> str:
        return f"{self.config.prefix}product:{sku}"

    def _lock_key(self, sku: int) -> str:
        return f"{self.config.prefix}product-lock:{sku}"

    async def get_product(self, sku: int, *, caller: str | None = None) -> ProductInfo | None:
        """The product, or None when ProductService does not know the sku."""
        return (await self.get_products([sku], caller=caller))[sku]

    async def get_products(self, skus: Iterable[int], *, caller: str | None = None) -> dict[int, ProductInfo | None]:
        """Names and prices; None for skus ProductService does not know. `caller` (`user:<id>`,
        `ip:<address>`) is charged for lookups the sku listing cannot vouch for; None charges nobody."""
        wanted = list(dict.fromkeys(skus))
        if not wanted:
            return {}
        with redis_failures_are_503():
            return await self._get_products(wanted, caller)

    async def no_longer_listed(self, skus: Iterable[int]) -> frozenset[int]:
        """Skus ProductService's listing (at most `known_skus_max_age` old) no longer has, whatever
        the cache still holds of them: a cart's lines at checkout (`KnownSkus.gone`)."""
        with redis_failures_are_503():
            return await self.known.gone(sorted(set(skus)))

    async def vet(self, sku: int, *, caller: str) -> bool:
        """Whether a lookup of `sku` is worth making: False when the listing says it does not exist;
        a sku the listing cannot vouch for is charged to `caller` (429 beyond the quota)."""
        with redis_failures_are_503():
            verdicts = await self.known.classify([sku])
            if sku in verdicts.unknown:
                return False
            if sku not in verdicts.known:
                await self.quota.charge(caller, 1)
        return True

    async def _get_products(self, wanted: list[int], caller: str | None) -> dict[int, ProductInfo | None]:
        cached = await self.redis.mget([self._key(s) for s in wanted])
        found: dict[int, ProductInfo | None] = {}
        unsure: list[int] = []
        missing_since: dict[int, float] = {}
        for sku, raw in zip(wanted, cached, strict=True):
            if raw is None:
                unsure.append(sku)
                continue
            value = orjson.loads(raw)
            if value.get("missing"):
                missing_since[sku] = float(value.get("at", 0))
                unsure.append(sku)
            else:
                found[sku] = _decode(value)
                self._refresh_if_old(sku, value)
        missing = await self._worth_fetching(unsure, missing_since, caller, found) if unsure else []
        if missing:
            limit = asyncio.Semaphore(self.config.concurrency)

            async def one(sku: int) -> None:
                async with limit:
                    found[sku] = await self._load(sku)

            try:
                async with asyncio.TaskGroup() as group:
                    for sku in missing:
                        group.create_task(one(sku))
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None
        return {sku: found[sku] for sku in wanted}

    async def _worth_fetching(
        self,
        unsure: list[int],
        missing_since: dict[int, float],
        caller: str | None,
        found: dict[int, ProductInfo | None],
    ) -> list[int]:
        """The skus to ask ProductService for; the others go into `found` as unknown.

        A cached "no such sku" stands unless a listing taken since names the sku (it was created).
        """
        verdicts: Verdicts = await self.known.classify(unsure)
        fetch: list[int] = []
        for sku in unsure:
            listed_since_missing = sku in verdicts.known and missing_since.get(sku, 0.0) < verdicts.listed_at
            if sku in verdicts.unknown or (sku in missing_since and not listed_since_missing):
                found[sku] = None
            else:
                fetch.append(sku)
        unvouched = sum(1 for sku in fetch if sku not in verdicts.known)
        if caller is not None and unvouched:
            await self.quota.charge(caller, unvouched)
        outdated = [self._key(sku) for sku in fetch if sku in missing_since]
        if outdated:
            await self.redis.delete(*outdated)
        return fetch

    async def _load(self, sku: int) -> ProductInfo | None:
        """In-process single flight: one coroutine per sku does the work, the rest share its future."""
        while (running := self._inflight.get(sku)) is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                # The leader was cancelled (its client left): take over unless we are cancelled too.
                task = asyncio.current_task()
                if not running.cancelled() or (task is not None and task.cancelling()):
                    raise
        future: asyncio.Future[ProductInfo | None] = asyncio.get_running_loop().create_future()
        self._inflight[sku] = future
        try:
            result = await self._load_shared(sku)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[sku]

    async def _load_shared(self, sku: int) -> ProductInfo | None:
        """Across replicas: whoever holds the sku's lock fetches; the others watch the cache."""
        lock_ttl = self.service.longest_call()
        deadline = time.monotonic() + lock_ttl + 1
        pause = 0.005
        while True:
            raw = await self.redis.get(self._key(sku))
            if raw is not None:
                return _decode(orjson.loads(raw))
            owner = uuid.uuid4().hex
            if await self.redis.set(self._lock_key(sku), owner, nx=True, px=int(lock_ttl * 1000)):
                try:
                    # The previous holder may have filled the cache between our look and our lock.
                    raw = await self.redis.get(self._key(sku))
                    return _decode(orjson.loads(raw)) if raw is not None else await self._fetch_and_cache(sku)
                finally:
                    await self._release(keys=[self._lock_key(sku)], args=[owner])
            if time.monotonic() > deadline:
                raise ProductServiceUnavailable(f"timed out waiting for another fetch of sku {sku}")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _refresh_if_old(self, sku: int, value: dict[str, Any]) -> None:
        """A product cached longer than `refresh_after` is fetched again in the background, at most
        `concurrency` at a time per process; a sku already being fetched is left to that fetch."""
        after = self.config.refresh_after
        if after <= 0 or time.time() - float(value.get("at", time.time())) < after:
            return
        if sku in self._refreshing or sku in self._inflight or len(self._refreshing) >= self.config.concurrency:
            return
        task = asyncio.get_running_loop().create_task(self._refresh(sku))
        self._refreshing[sku] = task
        task.add_done_callback(lambda _: self._refreshing.pop(sku, None))

    async def _refresh(self, sku: int) -> None:
        """Under the sku's lock (another replica may be at it), unless the cache was renewed
        meanwhile. A failure keeps the cached product: it stays until its TTL runs out."""
        owner = uuid.uuid4().hex
        try:
            if not await self.redis.set(
                self._lock_key(sku), owner, nx=True, px=int(self.service.longest_call() * 1000)
            ):
                return
            try:
                raw = await self.redis.get(self._key(sku))
                at = float(orjson.loads(raw).get("at", 0)) if raw is not None else 0.0
                if time.time() - at >= self.config.refresh_after:
                    await self._cache(sku, await self.service.get_product(sku))
            finally:
                await self._release(keys=[self._lock_key(sku)], args=[owner])
        except Exception as exc:  # a background fetch has nobody to answer to
            log.warning("background refresh of sku %s failed: %s", sku, exc)

    async def aclose(self) -> None:
        """Background refreshes cancelled (at shutdown)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _fetch_and_cache(self, sku: int) -> ProductInfo | None:
        try:
            product = await self.service.get_product(sku)
        except ProductServiceUnavailable as exc:
            await self.redis.set(self._key(sku), orjson.dumps({"error": exc.detail}), px=_FAILURE_TTL_MS)
            raise
        await self._cache(sku, product)
        return product

    async def _cache(self, sku: int, product: ProductInfo | None) -> None:
        ttl = self.config.cache_ttl if product is not None else self.config.missing_ttl
        value: dict[str, Any] = {"at": time.time()}
        value.update({"name": product.name, "price": product.price} if product else {"missing": True})
        if ttl > 0:
            await self.redis.set(self._key(sku), orjson.dumps(value), px=max(1, int(ttl * 1000)))


def _decode(value: dict[str, Any]) -> ProductInfo | None:
    if "error" in value:
        raise ProductServiceUnavailable(f"ProductService is failing: {value['error']}")
    if value.get("missing"):
        return None
    return ProductInfo(name=value["name"], price=int(value["price"]))

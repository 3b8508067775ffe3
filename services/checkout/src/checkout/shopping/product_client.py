"""The ProductService client: names and prices of skus, via route256's `/get_product`.

The real service is slow and rate limited, so every lookup goes through, in order:
1. the Redis cache (a hit costs no request);
2. single flight: one caller per sku fetches, in this process (a shared future) and across
   replicas (a Redis lock); the others wait for its answer in the cache;
3. the shared rate limit (GCRA in Redis), then the request itself, with a timeout, retried on
   420, 429, 5xx and network errors with exponential backoff and full jitter.
A failure is cached for a moment too, so waiters get the same answer and an outage answers fast.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
import orjson
from redis.asyncio import Redis

from checkout.shopping.ratelimit import RateLimitExceeded, SharedRateLimiter
from checkout.shopping.redis_guard import redis_failures_are_503
from shopcommon.problems import ServiceUnavailable

log = logging.getLogger(__name__)

_RETRYABLE = frozenset({420, 429})
#: How long a failure stays cached: waiters share it and new callers fail fast during an outage.
_FAILURE_TTL_MS = 1000
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(frozen=True)
class ProductInfo:
    name: str
    price: int


class ProductServiceUnavailable(ServiceUnavailable):
    title, slug = "ProductService unavailable", "product-service-unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


@dataclass(frozen=True)
class ProductClientConfig:
    token: str
    cache_ttl: float = 60.0
    missing_ttl: float = 5.0
    tries: int = 3
    timeout: float = 2.0
    backoff: float = 0.1
    backoff_max: float = 2.0
    concurrency: int = 5
    prefix: str = "checkout:"


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ProductClient:
    def __init__(
        self, http: httpx.AsyncClient, redis: Redis, limiter: SharedRateLimiter, config: ProductClientConfig
    ) -> None:
        self.http = http
        self.redis = redis
        self.limiter = limiter
        self.config = config
        self._inflight: dict[int, asyncio.Future[ProductInfo | None]] = {}
        self._release = redis.register_script(_RELEASE)

    def _key(self, sku: int) -> str:
        return f"{self.config.prefix}product:{sku}"

    def _lock_key(self, sku: int) -> str:
        return f"{self.config.prefix}product-lock:{sku}"

    async def get_product(self, sku: int) -> ProductInfo | None:
        """The product, or None when ProductService does not know the sku."""
        return (await self.get_products([sku]))[sku]

    async def get_products(self, skus: Iterable[int]) -> dict[int, ProductInfo | None]:
        wanted = list(dict.fromkeys(skus))
        if not wanted:
            return {}
        with redis_failures_are_503():
            return await self._get_products(wanted)

    async def _get_products(self, wanted: list[int]) -> dict[int, ProductInfo | None]:
        cached = await self.redis.mget([self._key(s) for s in wanted])
        found: dict[int, ProductInfo | None] = {}
        missing: list[int] = []
        for sku, raw in zip(wanted, cached, strict=True):
            if raw is None:
                missing.append(sku)
            else:
                found[sku] = _decode(raw)
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
        cfg = self.config
        lock_ttl = cfg.tries * (cfg.timeout + cfg.backoff_max) + self.limiter.max_wait_us / 1e6 + 1
        deadline = time.monotonic() + lock_ttl + 1
        pause = 0.005
        while True:
            raw = await self.redis.get(self._key(sku))
            if raw is not None:
                return _decode(raw)
            owner = uuid.uuid4().hex
            if await self.redis.set(self._lock_key(sku), owner, nx=True, px=int(lock_ttl * 1000)):
                try:
                    # The previous holder may have filled the cache between our look and our lock.
                    raw = await self.redis.get(self._key(sku))
                    return _decode(raw) if raw is not None else await self._fetch_and_cache(sku)
                finally:
                    await self._release(keys=[self._lock_key(sku)], args=[owner])
            if time.monotonic() > deadline:
                raise ProductServiceUnavailable(f"timed out waiting for another fetch of sku {sku}")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def _fetch_and_cache(self, sku: int) -> ProductInfo | None:
        try:
            product = await self._fetch(sku)
        except ProductServiceUnavailable as exc:
            await self.redis.set(self._key(sku), orjson.dumps({"error": exc.detail}), px=_FAILURE_TTL_MS)
            raise
        ttl = self.config.cache_ttl if product is not None else self.config.missing_ttl
        value = {"name": product.name, "price": product.price} if product else {"missing": True}
        if ttl > 0:
            await self.redis.set(self._key(sku), orjson.dumps(value), px=max(1, int(ttl * 1000)))
        return product

    async def _fetch(self, sku: int) -> ProductInfo | None:
        cfg = self.config
        reason = "no attempt made"
        for attempt in range(cfg.tries):
            try:
                await self.limiter.acquire()
            except RateLimitExceeded as exc:
                raise ProductServiceUnavailable(
                    "ProductService rate limit is saturated; try again shortly",
                    retry_after=SharedRateLimiter.retry_after(exc),
                ) from exc
            try:
                return await self._request(sku)
            except _Retry as retry:
                reason = str(retry)
                if attempt + 1 < cfg.tries:
                    await asyncio.sleep(self._backoff(attempt, retry.retry_after))
        log.warning("ProductService failed for sku %s after %d tries: %s", sku, cfg.tries, reason)
        raise ProductServiceUnavailable(f"ProductService did not answer for sku {sku}: {reason}")

    def _backoff(self, attempt: int, retry_after: float) -> float:
        cfg = self.config
        jittered = random.uniform(0, min(cfg.backoff_max, cfg.backoff * 2**attempt))
        return max(jittered, min(retry_after, cfg.backoff_max))

    async def _request(self, sku: int) -> ProductInfo | None:
        try:
            # httpx times each phase apart; this bounds the whole exchange.
            async with asyncio.timeout(self.config.timeout):
                resp = await self.http.post(
                    "/get_product", json={"token": self.config.token, "sku": sku}, timeout=self.config.timeout
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Retry(f"timed out after {self.config.timeout}s") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"unreachable ({type(exc).__name__})") from exc
        status = resp.status_code
        if status == 200:
            return _parse_product(resp)
        if status == 404:
            return None
        if status in _RETRYABLE or status >= 500:
            raise _Retry(f"answered {status}", _retry_after(resp))
        log.error("ProductService refused sku %s with %s: %s", sku, status, resp.text[:200])
        raise ProductServiceUnavailable(f"ProductService refused the request ({status})")


def _parse_product(resp: httpx.Response) -> ProductInfo:
    try:
        body = resp.json()
        name, price = body["name"], body["price"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _Retry("answered a malformed body") from exc
    if not isinstance(name, str) or not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise _Retry("answered a malformed body")
    return ProductInfo(name=name, price=price)


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0


def _decode(raw: bytes | str) -> ProductInfo | None:
    value = orjson.loads(raw)
    if "error" in value:
        raise ProductServiceUnavailable(f"ProductService is failing: {value['error']}")
    if value.get("missing"):
        return None
    return ProductInfo(name=value["name"], price=int(value["price"]))

"""ProductService on the wire: route256's `/get_product` and `/list_skus`, nothing cached here.

Every try takes a slot of the shared rate limit first (GCRA in Redis), then makes the request
with a timeout over the whole exchange; 420, 429, 5xx and network errors are retried with
exponential backoff and full jitter (at least the `Retry-After` asked for). Anything else, or
running out of tries or of rate-limit slots, is a 503 problem.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from checkout.shopping.errors import ProductServiceUnavailable
from checkout.shopping.ratelimit import RateLimitExceeded, SharedRateLimiter

log = logging.getLogger(__name__)

_RETRYABLE = frozenset({420, 429})
T = TypeVar("T")


@dataclass(frozen=True)
class ProductInfo:
    name: str
    price: int


@dataclass(frozen=True)
class Retries:
    tries: int = 3
    timeout: float = 2.0
    backoff: float = 0.1
    backoff_max: float = 2.0


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ProductService:
    def __init__(self, http: httpx.AsyncClient, limiter: SharedRateLimiter, *, token: str, retries: Retries) -> None:
        self.http = http
        self.limiter = limiter
        self.token = token
        self.retries = retries

    def longest_call(self) -> float:
        """The longest one call may take: its tries, their backoff, and the waits for rate-limit slots."""
        r = self.retries
        return r.tries * (r.timeout + r.backoff_max) + self.limiter.max_wait_us / 1e6 + 1

    async def get_product(self, sku: int) -> ProductInfo | None:
        """Name and price; None when ProductService does not know the sku."""
        return await self._call(f"sku {sku}", "/get_product", {"token": self.token, "sku": sku}, _parse_product)

    async def list_skus(self, after: int, count: int) -> list[int]:
        """Up to `count` skus greater than `after`, ascending."""
        body = {"token": self.token, "startAfterSku": after, "count": count}
        return await self._call(f"the skus after {after}", "/list_skus", body, _parse_skus)

    async def _call(self, what: str, path: str, body: dict[str, Any], parse: Callable[[httpx.Response], T]) -> T:
        r = self.retries
        reason = "no attempt made"
        for attempt in range(r.tries):
            try:
                await self.limiter.acquire()
            except RateLimitExceeded as exc:
                raise ProductServiceUnavailable(
                    "ProductService rate limit is saturated; try again shortly",
                    retry_after=SharedRateLimiter.retry_after(exc),
                ) from exc
            try:
                return parse(await self._request(what, path, body))
            except _Retry as retry:
                reason = str(retry)
                if attempt + 1 < r.tries:
                    await asyncio.sleep(self._backoff(attempt, retry.retry_after))
        log.warning("ProductService failed for %s after %d tries: %s", what, r.tries, reason)
        raise ProductServiceUnavailable(f"ProductService did not answer for {what}: {reason}")

    def _backoff(self, attempt: int, retry_after: float) -> float:
        r = self.retries
        jittered = random.uniform(0, min(r.backoff_max, r.backoff * 2**attempt))
        return max(jittered, min(retry_after, r.backoff_max))

    async def _request(self, what: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """A 200 or 404 answer; _Retry for what another try may mend; a 503 problem for the rest."""
        timeout = self.retries.timeout
        try:
            # httpx times each phase apart; this bounds the whole exchange.
            async with asyncio.timeout(timeout):
                resp = await self.http.post(path, json=body, timeout=timeout)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise _Retry(f"timed out after {timeout}s") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"unreachable ({type(exc).__name__})") from exc
        status = resp.status_code
        if status in (200, 404):
            return resp
        if status in _RETRYABLE or status >= 500:
            raise _Retry(f"answered {status}", _retry_after(resp))
        log.error("ProductService refused %s with %s: %s", what, status, resp.text[:200])
        raise ProductServiceUnavailable(f"ProductService refused the request ({status})")


def _parse_product(resp: httpx.Response) -> ProductInfo | None:
    if resp.status_code == 404:
        return None
    try:
        body = resp.json()
        name, price = body["name"], body["price"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _Retry("answered a malformed body") from exc
    if not isinstance(name, str) or not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise _Retry("answered a malformed body")
    return ProductInfo(name=name, price=price)


def _parse_skus(resp: httpx.Response) -> list[int]:
    if resp.status_code == 404:
        raise ProductServiceUnavailable("ProductService has no sku listing (404)")
    try:
        skus = resp.json()["skus"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _Retry("answered a malformed body") from exc
    if not isinstance(skus, list) or not all(type(s) is int and 0 < s < 2**32 for s in skus):
        raise _Retry("answered a malformed body")
    return sorted(skus)


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0

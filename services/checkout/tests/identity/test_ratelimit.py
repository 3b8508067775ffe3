"""Rate limits on sign-in, code requests and code checks: per IP and per account, 429 with
Retry-After, atomic across concurrent callers."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from redis.asyncio import Redis

from checkout.identity.ratelimit import Bucket, RateLimiter
from shopcommon.problems import TooManyRequests
from shopcommon.redis import make_redis
from shopcommon.testing.plugin import Stack

from .conftest import AppFactory, register


def assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


async def test_failed_logins_from_one_ip_are_limited(app_client: AppFactory) -> None:
    async with app_client(ip="198.51.100.1") as c:
        for i in range(10):
            r = await c.post("/api/v1/auth/token", json={"username": f"nobody{i}", "password": "x"})
            assert r.status_code == 401
        assert_limited(await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"}))
        assert_limited(await c.post("/api/v1/auth/login", json={"username": "josh", "password": "1"}))


async def test_failed_logins_on_one_account_are_limited_across_ips(app_client: AppFactory) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    for i in range(10):
        async with app_client(ip=f"198.51.100.{10 + i}", identity_redis_prefix=prefix) as c:
            assert (await c.post("/api/v1/auth/token", json={"username": "mike", "password": "x"})).status_code == 401
    async with app_client(ip="198.51.100.99", identity_redis_prefix=prefix) as c:
        # Username or email: one account, one allowance.
        assert_limited(await c.post("/api/v1/auth/token", json={"username": "mike@shop.example", "password": "1"}))
        assert (await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})).status_code == 200


async def test_successful_logins_are_not_limited(app_client: AppFactory) -> None:
    async with app_client(ip="198.51.100.200") as c:
        for _ in range(12):
            assert (await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})).status_code == 200


async def test_code_requests_are_limited_per_email_and_per_ip(app_client: AppFactory) -> None:
    async with app_client(ip="198.51.100.30") as c:
        for _ in range(5):
            assert (await c.post("/api/v1/auth/otp", json={"email": "someone@example.org"})).status_code == 202
        assert_limited(await c.post("/api/v1/auth/otp", json={"email": "SOMEONE@example.org"}))
        # Still limited from this IP for any address: it has spent its five.
        assert_limited(await c.post("/api/v1/auth/otp", json={"email": "other@example.org"}))


async def test_failed_code_checks_are_limited(app_client: AppFactory) -> None:
    async with app_client(ip="198.51.100.40") as c:
        user = await register(c)
        for i in range(10):
            body = {"email": user["email"], "code": f"{i:06d}"}
            assert (await c.post("/api/v1/auth/otp/verify", json=body)).status_code == 401
        assert_limited(await c.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": "123456"}))


async def test_limits_are_settings(app_client: AppFactory) -> None:
    async with app_client(ip="198.51.100.50", login_failures_per_ip=2) as c:
        for _ in range(2):
            assert (await c.post("/api/v1/auth/token", json={"username": "josh", "password": "x"})).status_code == 401
        assert_limited(await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"}))


@pytest.fixture
async def redis(shop_stack: Stack) -> Redis:
    return make_redis(shop_stack.urls.redis_url)


async def test_limiter_lets_exactly_the_limit_through_under_concurrency(redis: Redis) -> None:
    limiter = RateLimiter(redis, 60, prefix=f"t-{uuid.uuid4().hex[:8]}:")
    bucket = Bucket("test", "burst", 10)
    results = await asyncio.gather(*(limiter.hit(bucket) for _ in range(50)), return_exceptions=True)
    assert sum(r is None for r in results) == 10
    assert all(isinstance(r, TooManyRequests) for r in results if r is not None)
    await redis.aclose()


async def test_limiter_window_slides(redis: Redis) -> None:
    limiter = RateLimiter(redis, 1, prefix=f"t-{uuid.uuid4().hex[:8]}:")
    bucket = Bucket("test", "slide", 2)
    await limiter.hit(bucket)
    await limiter.hit(bucket)
    with pytest.raises(TooManyRequests) as blocked:
        await limiter.hit(bucket)
    assert blocked.value.headers == {"Retry-After": "1"}
    await asyncio.sleep(1.1)
    await limiter.hit(bucket)
    await redis.aclose()


async def test_check_counts_nothing_and_add_always_counts(redis: Redis) -> None:
    limiter = RateLimiter(redis, 60, prefix=f"t-{uuid.uuid4().hex[:8]}:")
    bucket = Bucket("test", "failures", 2)
    for _ in range(5):
        await limiter.check(bucket)
    await limiter.add(bucket)
    await limiter.add(bucket)
    with pytest.raises(TooManyRequests):
        await limiter.check(bucket)
    await redis.aclose()

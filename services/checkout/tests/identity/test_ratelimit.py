"""Rate limits on sign-in, code requests and code checks: per IP and per account, 429 with
Retry-After, atomic across concurrent callers."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
from redis.asyncio import Redis

from checkout.identity.ratelimit import Attempt, Bucket, RateLimiter
from shopcommon.problems import TooManyRequests
from shopcommon.redis import make_redis
from shopcommon.testing.plugin import Stack

from .conftest import AppFactory, auth_as, code_in, mail_to, register


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


async def test_failed_logins_on_one_account_are_limited_per_client_address(app_client: AppFactory) -> None:
    """Failures count per account *from one address*: that address is stopped on that account,
    not on others, and the account is not stopped elsewhere."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    limits = {"identity_redis_prefix": prefix, "login_failures_per_account": 3, "login_failures_per_ip": 100}
    async with app_client(ip="198.51.100.10", **limits) as c:
        for _ in range(3):
            assert (await c.post("/api/v1/auth/token", json={"username": "mike", "password": "x"})).status_code == 401
        # Username or email: one account, one allowance.
        assert_limited(await c.post("/api/v1/auth/token", json={"username": "mike@shop.example", "password": "1"}))
        assert (await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})).status_code == 200
    async with app_client(ip="198.51.100.11", **limits) as c:
        assert (await c.post("/api/v1/auth/token", json={"username": "mike", "password": "1"})).status_code == 200


async def test_an_account_hammered_from_many_addresses_still_lets_its_owner_in(app_client: AppFactory) -> None:
    """The lock-out attack: whoever fails on an account from everywhere spends only their own
    addresses' allowances; the owner's right password from an address that has not failed works."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    limits = {"identity_redis_prefix": prefix, "login_failures_per_account": 3}
    for i in range(4):
        async with app_client(ip=f"198.51.100.{20 + i}", **limits) as c:
            for _ in range(3):
                assert (
                    await c.post("/api/v1/auth/token", json={"username": "mike", "password": "x"})
                ).status_code == 401
            assert_limited(await c.post("/api/v1/auth/token", json={"username": "mike", "password": "1"}))
    async with app_client(ip="198.51.100.29", **limits) as owner:
        assert (await owner.post("/api/v1/auth/token", json={"username": "mike", "password": "1"})).status_code == 200
        assert (await owner.post("/api/v1/auth/login", json={"username": "mike", "password": "1"})).status_code == 200


async def test_one_ipv6_subscriber_is_one_address(app_client: AppFactory) -> None:
    """An IPv6 client can pick a new address from its /64 for every request: the /64 is what counts."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    limits = {"identity_redis_prefix": prefix, "login_failures_per_ip": 2}
    for host in ("2001:db8:7:1::1", "2001:db8:7:1:ffff:ffff:ffff:fffe"):
        async with app_client(ip=host, **limits) as c:
            assert (await c.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})).status_code == 401
    async with app_client(ip="2001:db8:7:1:1234::9", **limits) as c:
        assert_limited(await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"}))
    async with app_client(ip="2001:db8:7:2::1", **limits) as neighbour:
        assert (
            await neighbour.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})
        ).status_code == 200


async def test_forwarded_for_counts_only_from_a_trusted_proxy(app_client: AppFactory) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    limits = {"identity_redis_prefix": prefix, "login_failures_per_ip": 2, "forwarded_allow_ips": "10.0.0.0/8"}
    wrong, right = {"username": "nobody", "password": "x"}, {"username": "josh", "password": "1"}

    def via(chain: str) -> dict[str, str]:
        return {"X-Forwarded-For": chain}

    async with app_client(ip="10.0.0.5", **limits) as proxy:
        for _ in range(2):
            r = await proxy.post("/api/v1/auth/token", json=wrong, headers=via("203.0.113.50"))
            assert r.status_code == 401
        # The client, not the proxy, is limited; what the client itself wrote to the left is not believed.
        assert_limited(await proxy.post("/api/v1/auth/token", json=right, headers=via("203.0.113.50")))
        assert_limited(await proxy.post("/api/v1/auth/token", json=right, headers=via("198.18.0.1, 203.0.113.50")))
        assert_limited(await proxy.post("/api/v1/auth/token", json=right, headers=via("203.0.113.50, 10.0.0.7")))
        assert (await proxy.post("/api/v1/auth/token", json=right, headers=via("203.0.113.51"))).status_code == 200
    async with app_client(ip="198.51.100.130", **limits) as direct:
        # Not a trusted proxy: its header is ignored, so a fresh header each time buys nothing.
        for i in range(2):
            r = await direct.post("/api/v1/auth/token", json=wrong, headers=via(f"192.0.2.{i}"))
            assert r.status_code == 401
        assert_limited(await direct.post("/api/v1/auth/token", json=right, headers=via("192.0.2.99")))


async def test_one_time_code_failures_elsewhere_do_not_lock_the_owner_out(
    app_client: AppFactory, shop_stack: Stack
) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    limits = {"identity_redis_prefix": prefix, "otp_verify_failures_per_account": 3, "otp_verify_failures_per_ip": 100}
    async with app_client(ip="198.51.100.140", **limits) as owner:
        user = await register(owner)
        assert (await owner.post("/api/v1/auth/otp", json={"email": user["email"]})).status_code == 202
        code = code_in((await mail_to(shop_stack.urls.mail_api_url, user["email"]))[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    async with app_client(ip="198.51.100.141", **limits) as attacker:
        for _ in range(3):
            r = await attacker.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": wrong})
            assert r.status_code == 401
        assert_limited(await attacker.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code}))
    async with app_client(ip="198.51.100.140", **limits) as owner:
        r = await owner.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code})
        assert r.status_code == 200


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
    assert sum(isinstance(r, Attempt) for r in results) == 10
    assert all(isinstance(r, TooManyRequests) for r in results if not isinstance(r, Attempt))
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


async def test_failed_attempts_stay_counted_and_successful_ones_do_not(redis: Redis) -> None:
    limiter = RateLimiter(redis, 60, prefix=f"t-{uuid.uuid4().hex[:8]}:")
    bucket = Bucket("test", "failures", 2)
    for _ in range(5):
        async with limiter.counting_failures(bucket):
            pass  # succeeded: taken back out of the window
    for _ in range(2):
        with pytest.raises(ValueError):
            async with limiter.counting_failures(bucket):
                raise ValueError("wrong password")
    with pytest.raises(TooManyRequests):
        async with limiter.counting_failures(bucket):
            pytest.fail("a full bucket must not let the attempt run")
    await redis.aclose()


async def test_buckets_of_one_attempt_may_have_windows_of_their_own(redis: Redis) -> None:
    limiter = RateLimiter(redis, 1, prefix=f"t-{uuid.uuid4().hex[:8]}:")
    short, day = Bucket("test", "minute", 5), Bucket("test", "day", 2, window=86_400)
    await limiter.hit(short, day)
    await limiter.hit(short, day)
    await asyncio.sleep(1.1)  # the short window has emptied, the long one has not
    with pytest.raises(TooManyRequests) as blocked:
        await limiter.hit(short, day)
    assert int(blocked.value.headers["Retry-After"]) > 86_000
    await redis.aclose()


def wrong_guess(kind: str) -> tuple[str, dict[str, str]]:
    if kind == "password":
        return "/api/v1/auth/token", {"username": "josh", "password": "wrong"}
    if kind == "web-login":
        return "/api/v1/auth/login", {"username": "josh", "password": "wrong"}
    if kind == "client-credentials":
        return "/api/v1/auth/token", {"grant_type": "client_credentials", "client_id": "loms", "client_secret": "no"}
    return "/api/v1/auth/otp/verify", {"email": "josh@shop.example", "code": "000000"}


@pytest.mark.parametrize("kind", ["password", "web-login", "client-credentials", "one-time-code"])
async def test_concurrent_wrong_guesses_cannot_outrun_the_limit(app_client: AppFactory, kind: str) -> None:
    """Every guess is counted before it is checked, so at most `limit` ever reach the check."""
    url, body = wrong_guess(kind)
    async with app_client(ip="198.51.100.60") as c:
        answers = await asyncio.gather(*(c.post(url, json=body) for _ in range(60)))
    assert Counter(r.status_code for r in answers) == {401: 10, 429: 50}


async def test_registrations_are_limited_per_ip(app_client: AppFactory) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    async with app_client(ip="198.51.100.70", registrations_per_ip=3, identity_redis_prefix=prefix) as c:
        for _ in range(3):
            await register(c)
        body = {"username": "onetoomany", "email": "onetoomany@example.org", "password": "correct horse battery"}
        assert_limited(await c.post("/api/v1/users", json=body))
        assert (await c.post("/api/v1/auth/token", json={"username": "onetoomany", "password": "x"})).status_code == 401
    async with app_client(ip="198.51.100.71", registrations_per_ip=3, identity_redis_prefix=prefix) as other:
        await register(other)


async def test_accounts_a_manager_creates_are_not_counted_against_the_ip(app_client: AppFactory) -> None:
    """A manager setting up a shop's workers in one sitting is signed in and accountable: the
    public registration limit does not apply, and does not fill up for the public either."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    async with app_client(ip="198.51.100.72", registrations_per_ip=2, identity_redis_prefix=prefix) as c:
        headers = await auth_as(c, "admin")
        for i in range(4):
            name = f"staffmade{i}{uuid.uuid4().hex[:6]}"
            body = {"username": name, "email": f"{name}@example.org", "password": "correct horse battery"}
            r = await c.post("/api/v1/users", json=body, headers=headers)
            assert r.status_code == 201, r.text
        await register(c)
        await register(c)
        body = {"username": "publicthird", "email": "publicthird@example.org", "password": "correct horse battery"}
        assert_limited(await c.post("/api/v1/users", json=body))


async def test_wrong_current_passwords_spend_the_sign_in_allowance(app_client: AppFactory) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    async with app_client(ip="198.51.100.80", identity_redis_prefix=prefix) as c:
        user = await register(c)
        headers = await auth_as(c, user["username"], "correct horse battery")
        url, change = f"/api/v1/users/{user['id']}", {"password": "new secret words"}
        for _ in range(10):
            r = await c.patch(url, headers=headers, json={**change, "current_password": "a guess"})
            assert r.status_code == 403
        assert_limited(
            await c.patch(url, headers=headers, json={**change, "current_password": "correct horse battery"})
        )
    async with app_client(ip="198.51.100.81", identity_redis_prefix=prefix) as other:
        # Whoever holds the stolen token spent their own address's allowance, not the owner's.
        body = {"username": user["username"], "password": "correct horse battery"}
        assert (await other.post("/api/v1/auth/token", json=body)).status_code == 200

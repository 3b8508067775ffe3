"""Redis holds the product cache, the shared rate limit and the prices a customer was shown:
without it those answers cannot be given safely, so the client gets a 503 problem, not a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from shopcommon.problems import ServiceUnavailable

#: Delete a lock only while we still hold it (KEYS[1]: the lock, ARGV[1]: our token).
RELEASE_IF_OWNER = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class RedisUnavailable(ServiceUnavailable):
    title, slug = "Redis unavailable", "redis-unavailable"


@contextmanager
def redis_failures_are_503() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise RedisUnavailable("Redis is unavailable; try again shortly", headers={"Retry-After": "1"}) from exc

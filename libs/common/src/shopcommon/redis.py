"""Redis client lifecycle (Valkey speaks the same protocol)."""

from __future__ import annotations

from redis.asyncio import Redis


def make_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=False, health_check_interval=30, socket_connect_timeout=2)

"""Kafka API producer and consumer lifecycles.

Tansu (the embedded broker) refuses idempotent producers, so producers use `acks="all"` without
idempotence; exactly-once effects come from the outbox on one side and inboxes on the other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shopcommon.logging import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger(__name__)


def make_producer(bootstrap: str, **kw: Any) -> AIOKafkaProducer:
    kw.setdefault("acks", "all")
    kw.setdefault("enable_idempotence", False)
    kw.setdefault("linger_ms", 2)
    kw.setdefault("request_timeout_ms", 5000)
    kw.setdefault("retry_backoff_ms", 200)
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **kw)


def make_consumer(bootstrap: str, *topics: str, group_id: str, **kw: Any) -> AIOKafkaConsumer:
    kw.setdefault("enable_auto_commit", False)
    kw.setdefault("auto_offset_reset", "earliest")
    kw.setdefault("session_timeout_ms", 10000)
    kw.setdefault("heartbeat_interval_ms", 1000)
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=group_id, **kw)


def trace_headers(request_id: str | None = None) -> list[tuple[str, bytes]]:
    rid = request_id or current_request_id()
    return [(REQUEST_ID_HEADER, rid.encode())] if rid else []


async def ensure_topics(bootstrap: str, topics: dict[str, int], replication_factor: int = 1) -> None:
    """Create topics with the given partition counts when missing (a broker may come back empty),
    each with `replication_factor` copies."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=n, replication_factor=replication_factor)
            for t, n in topics.items()
            if t not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def kafka_ready(bootstrap: str, timeout: float = 2.0) -> None:
    """Raise when the Kafka API does not answer a metadata request in time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
    finally:
        await admin.close()

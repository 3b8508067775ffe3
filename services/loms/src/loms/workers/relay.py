"""The outbox relay: publishes events to the Kafka API in outbox order, keyed by order id.

One relay publishes at a time: each batch runs in a transaction holding an advisory lock, and
its rows are marked published only after the broker acknowledged every one of them, so a
second relay (another replica) can neither publish a batch twice nor overtake it. Within a
batch, each partition's events go out strictly one record batch after another, so even a retry
after a failure repeats events in order. When the broker is down the events wait in the outbox;
a broker that comes back empty gets its topics created again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.repositories import outbox
from loms.repositories.outbox import PendingEvent
from loms.workers.base import Worker
from shopcommon.kafka import ensure_topics, make_producer, trace_headers

log = logging.getLogger(__name__)
#: Another relay holds the publisher lock: look again soon (it may finish before our notification).
BUSY_RETRY = 0.05


class OutboxRelay(Worker):
    name = "relay"

    def __init__(self, engine: AsyncEngine, settings: Settings, wake: asyncio.Event | None = None) -> None:
        super().__init__(idle=settings.relay_sweep_interval, wake=wake, max_backoff=1.0)
        self.engine = engine
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.partitioner = DefaultPartitioner()
        self.published = 0

    async def step(self) -> float:
        batch_size = self.settings.relay_batch_size
        async with self.engine.begin() as conn:
            if not await outbox.try_lock_publisher(conn):
                return BUSY_RETRY
            pending = await outbox.fetch_unpublished(conn, batch_size)
            if not pending:
                return self.idle
            try:
                await asyncio.wait_for(self.publish(pending), self.settings.relay_send_timeout)
            except BaseException:
                await self.drop_producer()
                raise
            await outbox.mark_published(conn, [e.id for e in pending])
        self.published += len(pending)
        return 0.0 if len(pending) >= batch_size else self.idle

    async def publish(self, pending: list[PendingEvent]) -> None:
        producer = await self.ready_producer()
        lanes: dict[tuple[str, int], list[PendingEvent]] = defaultdict(list)
        partitions: dict[str, list[int]] = {}
        for event in pending:
            if event.topic not in partitions:
                partitions[event.topic] = sorted(await producer.partitions_for(event.topic))
            partition = self.partitioner(event.key.encode(), partitions[event.topic], partitions[event.topic])
            lanes[(event.topic, partition)].append(event)
        await asyncio.gather(*(self.send_lane(producer, topic, partition, events)
                               for (topic, partition), events in lanes.items()))

    async def send_lane(self, producer: AIOKafkaProducer, topic: str, partition: int,
                        events: list[PendingEvent]) -> None:
        """One partition's events, in order, one record batch acknowledged before the next is sent."""
        batch = producer.create_batch()
        for event in events:
            record = {"key": event.key.encode(), "value": event.payload, "timestamp": None,
                      "headers": trace_headers(event.request_id) if event.request_id else []}
            if batch.append(**record) is None:
                await (await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(**record)
        if batch.record_count():
            await (await producer.send_batch(batch, topic, partition=partition))

    async def ready_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            bootstrap = self.settings.kafka_bootstrap_servers
            await ensure_topics(bootstrap, {self.settings.order_events_topic: self.settings.order_events_partitions})
            producer = make_producer(bootstrap, max_batch_size=256 * 1024, request_timeout_ms=3000)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self.producer = producer
        return self.producer

    async def drop_producer(self) -> None:
        """After a failure start afresh: anything still buffered is discarded, not delivered late,
        and the next attempt re-creates topics a restarted broker has lost."""
        producer, self.producer = self.producer, None
        if producer is None:
            return
        sender = getattr(producer, "_sender", None)
        with contextlib.suppress(Exception):
            if sender is not None:
                await sender.close()  # cancels the send loop; stop() then has nothing to flush
            await asyncio.wait_for(producer.stop(), 5)

    async def close(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.producer.stop(), 5)
            self.producer = None

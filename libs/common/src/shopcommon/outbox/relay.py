"""The outbox relay: publishes events to the Kafka API in outbox order, keyed.

One relay publishes at a time: each batch runs in a transaction holding an advisory lock, and
its rows are deleted only after the broker acknowledged every one of them, so a second relay
(another replica) can neither publish a batch twice nor overtake it. Within a batch, each
partition's events go out strictly one record batch after another, so even a retry after a
failure repeats events in order. When the broker is down the events wait in the outbox.

A broker that restarts comes back empty (Tansu keeps its log in memory), and Tansu acknowledges
records sent to a topic it does not have, then drops them. So an acknowledgement is trusted only
when the partition's offsets did not go backwards since the relay's last batch and the topic
still exists afterwards; otherwise the topics are created again and the batch is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy.ext.asyncio import AsyncEngine

from shopcommon.kafka import ensure_topics, make_producer, trace_headers
from shopcommon.outbox.store import OutboxStore, PendingEvent
from shopcommon.outbox.worker import Worker
from shopcommon.tracing import traceparent_header

log = logging.getLogger(__name__)
#: Another relay holds the publisher lock: look again this soon (it may miss our latest notification).
BUSY_RETRY = 0.1
#: Longest the relay waits for its vacuum of the outbox (a few milliseconds when all is well).
VACUUM_TIMEOUT = 10.0
Lane = tuple[str, int]


@dataclass(frozen=True)
class RelayTuning:
    """How a relay paces itself; each service maps its own settings onto this."""

    #: The topics the relay publishes to and their partition counts (created when missing).
    topics: dict[str, int] = field(default_factory=dict)
    #: Copies of each topic created (`kafka_topic_replication_factor`).
    replication_factor: int = 1
    #: The relay is woken by LISTEN/NOTIFY; this sweep covers missed notifications.
    sweep_interval: float = 1.0
    #: After a wake-up the relay lets this much time pass so one batch carries what arrives meanwhile.
    linger: float = 0.01
    batch_size: int = 500
    send_timeout: float = 10.0
    #: Vacuum the outbox after this many deletions (0: leave it to autovacuum). A deleted row stays
    #: in the table's index until a vacuum and every fetch walks over it; autovacuum comes by at
    #: most once a minute, by when a busy service has piled up tens of thousands.
    vacuum_after: int = 5_000
    #: The largest record batch sent to one partition at once.
    max_batch_bytes: int = 256 * 1024
    request_timeout_ms: int = 3000


class BrokerLostRecords(Exception):
    """The broker acknowledged records it cannot have kept (it restarted empty)."""


class OutboxRelay(Worker):
    name = "relay"

    def __init__(
        self,
        engine: AsyncEngine,
        store: OutboxStore,
        bootstrap_servers: str,
        tuning: RelayTuning,
        wake: asyncio.Event | None = None,
    ) -> None:
        super().__init__(idle=tuning.sweep_interval, wake=wake, max_backoff=1.0)
        self.engine = engine
        self.store = store
        self.bootstrap_servers = bootstrap_servers
        self.tuning = tuning
        self.producer: AIOKafkaProducer | None = None
        self.admin: AIOKafkaAdminClient | None = None
        self.partitioner = DefaultPartitioner()
        #: The offset after the last record this relay saw acknowledged, per partition.
        self.next_offsets: dict[Lane, int] = {}
        self.published = 0
        #: Events deleted from the outbox since this relay last vacuumed it.
        self.deleted_since_vacuum = 0
        #: Vacuums this relay ran (PostgreSQL may have skipped one: autovacuum on the table already).
        self.vacuums = 0
        self._rested = True

    async def step(self) -> float:
        if self._rested and self.tuning.linger > 0:
            await asyncio.sleep(self.tuning.linger)  # events of concurrent requests ride along
        rest = await self.publish_batch()
        if rest is None:
            # Another relay is publishing and will go on until the outbox is empty: look again a
            # little later instead of at every notification.
            await asyncio.sleep(BUSY_RETRY)
            rest = 0.0
        self._rested = rest > 0
        return rest

    async def publish_batch(self) -> float | None:
        """One batch published; how long to rest after it, None when another relay holds the lock."""
        batch_size = self.tuning.batch_size
        async with self.engine.begin() as conn:
            pending = await self.store.lock_and_fetch(conn, batch_size)
            if pending is None:
                # This process's requests wake only its own relay: pass the wake-up on to the
                # relay holding the lock, wherever it runs, so it takes our events along.
                await self.store.notify(conn)
                return None
            if not pending:
                return self.idle
            try:
                await asyncio.wait_for(self.publish(pending), self.tuning.send_timeout)
            except BaseException:
                await self.reset()
                raise
            await self.store.mark_published(conn, [e.id for e in pending])
        self.published += len(pending)
        await self.vacuum_when_due(len(pending))
        return 0.0 if len(pending) >= batch_size else self.idle

    async def vacuum_when_due(self, deleted: int) -> None:
        """Only the relay holding the publisher lock deletes, so replicas do not vacuum side by side."""
        threshold = self.tuning.vacuum_after
        if threshold <= 0:
            return
        self.deleted_since_vacuum += deleted
        if self.deleted_since_vacuum < threshold:
            return
        self.deleted_since_vacuum = 0
        try:
            # Publishing waits meanwhile: bounded, should the pool or the table be busy.
            await asyncio.wait_for(self.store.vacuum(self.engine), VACUUM_TIMEOUT)
            self.vacuums += 1
        except Exception:
            # Not fatal: autovacuum still comes by, only later. The events are published already.
            log.warning("vacuuming the outbox %s failed", self.store.table, exc_info=True)

    async def publish(self, pending: list[PendingEvent]) -> None:
        producer = await self.ready_producer()
        lanes: dict[Lane, list[PendingEvent]] = defaultdict(list)
        partitions: dict[str, list[int]] = {}
        for event in pending:
            if event.topic not in partitions:
                partitions[event.topic] = sorted(await producer.partitions_for(event.topic))
            partition = self.partitioner(event.key.encode(), partitions[event.topic], partitions[event.topic])
            lanes[(event.topic, partition)].append(event)
        acked = await asyncio.gather(*(self.send_lane(producer, lane, events) for lane, events in lanes.items()))
        await self.check_kept(list(lanes), acked)

    async def send_lane(self, producer: AIOKafkaProducer, lane: Lane, events: list[PendingEvent]) -> tuple[int, int]:
        """One partition's events, in order, each record batch acknowledged before the next is sent;
        the first and the next offset the broker assigned."""
        topic, partition = lane
        first: int | None = None
        batch, count = producer.create_batch(), 0
        for event in events:
            record = {
                "key": event.key.encode(),
                "value": event.payload,
                "timestamp": None,
                "headers": [
                    *(trace_headers(event.request_id) if event.request_id else []),
                    *traceparent_header(event.traceparent),
                ],
            }
            if batch.append(**record) is None:
                meta = await (await producer.send_batch(batch, topic, partition=partition))
                first = meta.offset if first is None else first
                batch, count = producer.create_batch(), 0
                batch.append(**record)
            count += 1
        meta = await (await producer.send_batch(batch, topic, partition=partition))
        first = meta.offset if first is None else first
        return first, meta.offset + count

    async def check_kept(self, lanes: list[Lane], acked: list[tuple[int, int]]) -> None:
        for lane, (first, _) in zip(lanes, acked, strict=True):
            if first < self.next_offsets.get(lane, 0):
                raise BrokerLostRecords(f"offsets of {lane[0]}[{lane[1]}] went back to {first}")
        unknown = {topic for topic, partition in lanes if (topic, partition) not in self.next_offsets}
        if unknown and self.admin is not None:
            # No earlier offset to compare with: ask whether the topic exists (a metadata request
            # that creates nothing, unlike the producer's).
            missing = unknown - set(await self.admin.list_topics())
            if missing:
                raise BrokerLostRecords(f"topics {sorted(missing)} vanished")
        for lane, (_, following) in zip(lanes, acked, strict=True):
            self.next_offsets[lane] = following

    async def ready_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            bootstrap = self.bootstrap_servers
            if self.tuning.topics:
                await ensure_topics(bootstrap, self.tuning.topics, self.tuning.replication_factor)
            timeout = self.tuning.request_timeout_ms
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout)
            producer = make_producer(bootstrap, max_batch_size=self.tuning.max_batch_bytes, request_timeout_ms=timeout)
            try:
                await admin.start()
                await producer.start()
            except BaseException:
                await self._close(producer, admin)
                raise
            self.producer, self.admin = producer, admin
        return self.producer

    async def reset(self) -> None:
        """After a failure start afresh: anything still buffered is discarded rather than delivered
        late, offsets are learnt anew, and the next attempt re-creates topics the broker lost."""
        producer, admin = self.producer, self.admin
        self.producer, self.admin, self.next_offsets = None, None, {}
        sender = getattr(producer, "_sender", None)
        with contextlib.suppress(Exception):
            if sender is not None:
                await sender.close()  # cancels the send loop, so stop() has nothing left to flush
        await self._close(producer, admin)

    async def close(self) -> None:
        producer, admin, self.producer, self.admin = self.producer, self.admin, None, None
        await self._close(producer, admin)

    @staticmethod
    async def _close(producer: AIOKafkaProducer | None, admin: AIOKafkaAdminClient | None) -> None:
        for closing in (producer.stop() if producer else None, admin.close() if admin else None):
            if closing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing, 5)

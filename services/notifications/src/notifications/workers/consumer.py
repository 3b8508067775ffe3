"""The consumer group on `loms.order-events` and `bookings.booking-events`: one group, one loop,
both topics.

Each message: parse; record the event id in the inbox together with the notifications it causes
(one transaction per chunk of a partition's messages, before anything is sent); then stream it
(once per event id, guarded in Redis; with Redis down the live streams miss it, the mail does not).
Offsets are committed after a partition's batch is handled, so a crash redelivers at most that
batch and the inbox turns the repeats into no-ops. Partitions are handled concurrently, the
messages of one partition (so of one order, or one booking) strictly in order. A message that cannot be parsed,
or of a type this service does not know, is logged, counted and skipped.

The Kafka API may come back empty (Tansu keeps everything in memory): the consumer then finds
no committed offset and reads the recreated topic from the start; any failure restarts it after
a pause instead of ending it.

`stop()` (the service is shutting down) ends the loop between batches: the batch in hand is
handled and its offsets committed, then the consumer leaves the group, so its partitions go to
the other replicas at once and nothing it handled is read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.audiences import stream_audiences
from notifications.domain.events import Consumed, MalformedEvent, UnknownEventType, parse_event
from notifications.metrics import NotificationMetrics
from notifications.repositories.inbox import Parsed, record_events
from notifications.stream import StreamEvent, StreamHub
from shopcommon.db import transaction
from shopcommon.kafka import ensure_topics, make_consumer
from shopcommon.tracing import consuming, traceparent_in

log = logging.getLogger(__name__)


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        hub: StreamHub,
        metrics: NotificationMetrics,
        on_recorded: Callable[[], None],
        batch_size: int = 200,
        transaction_size: int = 50,
        topic_partitions: int = 3,
        topic_replication_factor: int = 1,
        fetch_wait_ms: int = 50,
        retry_seconds: float = 1.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = tuple(dict.fromkeys(t for t in topics if t))
        if not self.topics:
            raise ValueError("the consumer needs a topic to read")
        self.group_id = group_id
        self.sessionmaker = sessionmaker
        self.hub = hub
        self.metrics = metrics
        self.on_recorded = on_recorded
        self.batch_size = batch_size
        self.transaction_size = max(1, transaction_size)
        self.topic_partitions = topic_partitions
        self.topic_replication_factor = topic_replication_factor
        self.fetch_wait_ms = fetch_wait_ms
        self.retry_seconds = retry_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in hand, commit its offsets, leave the group and return from `run`."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run(self) -> None:
        pause = self.retry_seconds
        while not self._stopping.is_set():
            consumer = make_consumer(
                self.bootstrap,
                *self.topics,
                group_id=self.group_id,
                metadata_max_age_ms=3000,
                fetch_max_wait_ms=self.fetch_wait_ms,
            )
            try:
                topics = dict.fromkeys(self.topics, self.topic_partitions)
                await ensure_topics(self.bootstrap, topics, self.topic_replication_factor)
                await consumer.start()
                pause = self.retry_seconds
                await self._consume(consumer)
            except Exception as exc:  # broker gone, coordinator lost, database down: start over after a pause
                log.warning("event consumer stopped (%s: %s); restarting in %.1fs", type(exc).__name__, exc, pause)
            finally:
                self.metrics.consumer_partitions.set(0)
                try:
                    await consumer.stop()
                except Exception as exc:  # stopping a half-started consumer may fail too
                    log.debug("consumer stop failed: %s", exc)
            await self._pause(pause)
            pause = min(pause * 2, 30.0)
        log.info("event consumer stopped")

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
            self.metrics.consumer_partitions.set(len(consumer.assignment()))
            if not batches:
                continue
            handled_up_to = await asyncio.gather(*(self.handle_batch(msgs) for msgs in batches.values()))
            offsets: dict[TopicPartition, OffsetAndMetadata] = {}
            stalled = False
            for (tp, msgs), next_offset in zip(batches.items(), handled_up_to, strict=True):
                if next_offset > msgs[0].offset:
                    offsets[tp] = OffsetAndMetadata(next_offset, "")
                if next_offset <= msgs[-1].offset:  # go back to the first message not handled
                    consumer.seek(tp, next_offset)
                    stalled = True
            await self._commit(consumer, offsets)
            if stalled:
                await self._pause(self.retry_seconds)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance took the partition: its new owner re-reads, the inbox dedups
            log.warning("offset commit failed (%s); those events will be seen again", exc)

    async def handle_batch(self, messages: Sequence[ConsumerRecord[bytes, bytes]]) -> int:
        """Handle one partition's messages in order, a chunk per transaction; the offset of the first
        message not handled."""
        for start in range(0, len(messages), self.transaction_size):
            chunk = messages[start : start + self.transaction_size]
            try:
                # In the trace of the request that changed the order (the relay sends its context).
                with consuming(f"process {chunk[0].topic}", [m.headers for m in chunk]):
                    await self.handle_chunk([(m.value, traceparent_in(m.headers)) for m in chunk])
                    log.debug(
                        "handled %d events at %s:%s@%s", len(chunk), chunk[0].topic, chunk[0].partition, chunk[0].offset
                    )
            except Exception:  # database trouble: stop this partition here and retry later
                log.exception(
                    "could not handle the events at %s:%s@%s..%s; will retry",
                    chunk[0].topic,
                    chunk[0].partition,
                    chunk[0].offset,
                    chunk[-1].offset,
                )
                return chunk[0].offset
        return messages[-1].offset + 1

    async def handle_chunk(self, messages: Sequence[tuple[bytes | None, str | None]]) -> None:
        """Messages' values, each with the trace context its message carried (its notifications
        keep it, so their sending joins the trace of the request that caused the event)."""
        parsed: list[Parsed] = []
        traces: dict[uuid.UUID, str | None] = {}
        for value, traceparent in messages:
            one = self.parse(value)
            if one is not None:
                parsed.append(one)
                traces.setdefault(one[0].event_id, traceparent)
        if not parsed:
            return
        try:
            await self.record(parsed, traces)
        except DBAPIError as exc:
            if not refused_by_database(exc):
                raise
            # An event the database refuses must not stall its partition for ever: one by one, skipping it.
            for one in parsed:
                await self.record_or_skip(one, traces)
            return
        await self.stream(parsed)

    async def record_or_skip(self, one: Parsed, traces: Mapping[uuid.UUID, str | None]) -> None:
        try:
            await self.record([one], traces)
        except DBAPIError as exc:
            if not refused_by_database(exc):
                raise
            self.metrics.skipped.labels("rejected").inc()
            log.exception("skipping event %s: the database refuses it", one[0].event_id)
            return
        await self.stream([one])

    async def record(self, parsed: list[Parsed], traces: Mapping[uuid.UUID, str | None]) -> None:
        async with transaction(self.sessionmaker) as session:
            fresh = await record_events(session, parsed, traces)
        self.metrics.events.labels("handled").inc(len(fresh))
        self.metrics.events.labels("duplicate").inc(len(parsed) - len(fresh))
        if fresh:
            self.on_recorded()

    async def stream(self, parsed: list[Parsed]) -> None:
        """After the commit, redeliveries included: the hub publishes each event id only once to
        each of its audiences (`notifications.audiences`); a guest's booking has none.

        Redis failing does not hold the events up: they are recorded, so their e-mails and pushes go
        out; the live streams miss them (every stream has ended with Redis anyway, and a page
        reloaded afterwards shows the state they brought)."""
        try:
            pairs = await stream_audiences(self.hub.redis, [event for event, _ in parsed])
            await self.hub.publish_many([(audience, stream_event(event)) for audience, event in pairs])
        except RedisError as exc:
            self.metrics.not_streamed.inc(len(parsed))
            log.warning("%d recorded events not streamed live: Redis failed (%s)", len(parsed), exc)

    def parse(self, raw: bytes | None) -> Parsed | None:
        try:
            return parse_event(raw)
        except UnknownEventType as exc:
            self.metrics.skipped.labels("unknown_type").inc()
            log.info("skipping an event of unknown type %r", exc.event_type)
        except MalformedEvent as exc:
            self.metrics.skipped.labels("malformed").inc()
            log.warning("skipping a malformed message: %s", exc)
        return None


def refused_by_database(exc: DBAPIError) -> bool:
    """A data exception (SQLSTATE class 22) or a constraint violation (23): retrying cannot help."""
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    return sqlstate[:2] in ("22", "23")


def stream_event(event: Consumed) -> StreamEvent:
    """The event as the stream's document describes it (its model), not as its publisher spelt it."""
    return StreamEvent(str(event.event_id), event.type, orjson.dumps(event.stream_document()).decode())

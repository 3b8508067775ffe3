"""The live stream: order events fanned out to open SSE connections on any replica.

The consumer publishes each event once per audience (a Redis key per event id and audience guards
against redelivery) to the audience's pub/sub channel and appends it to the user's short history (a Redis stream trimmed by
length and expiring by age). Each replica keeps one pub/sub connection, subscribed to the
channels of the users it is streaming to, and hands messages to their connections' queues. A
client reconnecting with `Last-Event-ID` gets the history after that event first. An audience is
a user, or `STAFF`: every manager's stream listens to it too, and a reconnecting manager is
replayed both histories, merged in the order they were published.

A stream never skips an event and goes on: one whose client reads too slowly to keep up (its queue
full), and every stream of a replica whose pub/sub connection to Redis dropped (what was published
meanwhile never reaches it), is handed `RESUME` and ends, and its client reconnects with
`Last-Event-ID` and is replayed what it missed from the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sse_starlette import ServerSentEvent

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "notifications:user:"
HISTORY_PREFIX = "notifications:history:"
STREAMED_PREFIX = "notifications:streamed:"
CONTROL_CHANNEL = "notifications:control"
QUEUE_SIZE = 1000
#: Longest a closing stream waits to unsubscribe from its channels (the hub's lock, then Redis).
LEAVE_SECONDS = 2.0
#: The audience of every manager's stream (no user has id 0): the shop's orders, bookings and tasks as they change.
STAFF = 0
#: Lines end in a bare newline (sse-starlette's default is CRLF); EventSource reads either.
SEP = "\n"

# Atomic: the first delivery of an event id appends to the history and publishes; a redelivery does nothing.
_PUBLISH_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'msg', ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  redis.call('PUBLISH', ARGV[5], ARGV[4])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class StreamEvent:
    event_id: str
    event_type: str
    data: str

    def encode(self) -> bytes:
        return f"{self.event_id}\n{self.event_type}\n{self.data}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> StreamEvent:
        event_id, event_type, data = raw.decode().split("\n", 2)
        return cls(event_id, event_type, data)

    def message(self) -> ServerSentEvent:
        """One SSE message; `data` is JSON on one line, as the contract says."""
        return ServerSentEvent(self.data, id=self.event_id, event=self.event_type, sep=SEP)


#: Handed to a stream that missed events: it ends so its client resumes from the history.
RESUME = StreamEvent("", "resume", "")


def _resume(queue: asyncio.Queue[StreamEvent]) -> None:
    """End a stream: what is still queued is dropped (the history keeps it) and `RESUME` follows."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(RESUME)


class StreamHub:
    def __init__(self, redis: Redis, *, history_seconds: int = 600, history_max: int = 200) -> None:
        self.redis = redis
        self.history_seconds = history_seconds
        self.history_max = history_max
        self._publish_once = redis.register_script(_PUBLISH_ONCE)
        self._listeners: dict[int, set[asyncio.Queue[StreamEvent]]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._pubsub: PubSub | None = None
        self._pump_task: asyncio.Task[None] | None = None

    # -- publishing (the consumer) ---------------------------------------------------------------

    async def publish_many(self, events: Sequence[tuple[int, StreamEvent]]) -> int:
        """Publish (user id, event) pairs in one round trip; how many had not been streamed before."""
        if not events:
            return 0
        dedup_seconds = max(self.history_seconds, 3600)
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, event in events:
                await self._publish_once(
                    keys=[f"{STREAMED_PREFIX}{event.event_id}:{user_id}", HISTORY_PREFIX + str(user_id)],
                    args=[
                        dedup_seconds,
                        self.history_max,
                        self.history_seconds,
                        event.encode(),
                        CHANNEL_PREFIX + str(user_id),
                    ],
                    client=pipe,
                )
            results = await pipe.execute()
        return sum(bool(r) for r in results)

    async def history_after(self, audiences: Sequence[int], last_event_id: str | None) -> list[StreamEvent]:
        """What a stream of these audiences missed: their retained events after `last_event_id`, in
        the order they were published, each once (all of them if the id is unknown).

        Entry ids order one stream only (`<ms>-<seq>`, `seq` counting per stream): an event in several
        histories is placed by its entry in the last audience's (`STAFF`'s, which holds every event a
        manager hears), and the others' own events are placed after that history's of the same ms."""
        oldest = f"{int((time.time() - self.history_seconds) * 1000)}-0"
        async with self.redis.pipeline(transaction=False) as pipe:
            for audience in audiences:
                pipe.xrange(HISTORY_PREFIX + str(audience), min=oldest, max="+")
            histories = await pipe.execute()
        placed: dict[str, tuple[int, int, int, StreamEvent]] = {}
        for rank, history in enumerate(reversed(histories)):
            for entry_id, fields in history or []:
                event = StreamEvent.decode(_as_bytes(fields[b"msg"])) if fields else None
                if event is not None and event.event_id not in placed:
                    ms, seq = _entry_key(entry_id)
                    placed[event.event_id] = (ms, rank, seq, event)
        events = [entry[3] for entry in sorted(placed.values(), key=lambda entry: entry[:3])]
        for index, event in enumerate(events):
            if event.event_id == last_event_id:
                return events[index + 1 :]
        return events

    # -- listening (the SSE connections of this replica) -------------------------------------------

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub()
        await self._pubsub.subscribe(CONTROL_CHANNEL)
        self._pump_task = asyncio.create_task(self._pump(), name="stream-hub")

    async def stop(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()

    @contextlib.asynccontextmanager
    async def listen(self, *audiences: int, confirm_timeout: float = 2.0) -> AsyncIterator[asyncio.Queue[StreamEvent]]:
        """One queue of the events of these audiences (a user; `STAFF` for managers), subscribed
        (and confirmed by Redis) before it is handed out."""
        assert self._pubsub is not None, "StreamHub.start() first"
        queue: asyncio.Queue[StreamEvent] = asyncio.Queue(QUEUE_SIZE)
        confirmed: list[asyncio.Event] = []
        try:  # from the first audience joined: a later one failing to subscribe leaves them all
            async with self._lock:
                for audience in audiences:
                    channel = CHANNEL_PREFIX + str(audience)
                    listeners = self._listeners.setdefault(audience, set())
                    if not listeners:
                        self._confirmed[channel] = asyncio.Event()
                        await self._pubsub.subscribe(channel)
                    listeners.add(queue)
                    confirmed.append(self._confirmed[channel])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.wait() for c in confirmed)), confirm_timeout)
            yield queue
        finally:
            # The queue leaves at once, before any await: a stream whose client went away is being
            # cancelled, and the hub must not keep feeding it. Unsubscribing is shielded (bounded).
            for audience in audiences:
                self._listeners.get(audience, set()).discard(queue)
            with anyio.move_on_after(LEAVE_SECONDS, shield=True):
                for audience in audiences:
                    await self._leave(audience, CHANNEL_PREFIX + str(audience))

    async def _leave(self, audience: int, channel: str) -> None:
        """Unsubscribe from an audience's channel that no stream of this process listens to any more."""
        async with self._lock:
            if self._listeners.get(audience):
                return  # still listened to, or joined again meanwhile
            self._listeners.pop(audience, None)
            self._confirmed.pop(channel, None)
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.unsubscribe(channel)

    @property
    def open_streams(self) -> int:
        return sum(len(queues) for queues in self._listeners.values())

    async def _pump(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:  # Redis restarting: redis-py reconnects and resubscribes
                log.warning("stream hub lost Redis: %s; its streams end and their clients resume", exc)
                for queues in self._listeners.values():
                    for queue in queues:
                        _resume(queue)
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                try:
                    self._dispatch(message)
                except Exception:  # one malformed message must not silence every stream of the process
                    log.exception("stream hub could not hand on a message from %r", message.get("channel"))

    def _dispatch(self, message: dict[str, object]) -> None:
        kind, raw_channel = message.get("type"), message.get("channel")
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else str(raw_channel)
        if kind == "subscribe":
            if channel in self._confirmed:
                self._confirmed[channel].set()
            return
        if kind != "message" or not channel.startswith(CHANNEL_PREFIX):
            return
        data = message.get("data")
        if not isinstance(data, bytes):
            return
        event = StreamEvent.decode(data)
        for queue in self._listeners.get(int(channel[len(CHANNEL_PREFIX) :]), ()):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("stream client too slow to take event %s; its stream ends and resumes", event.event_id)
                _resume(queue)


def _entry_key(entry_id: bytes | str) -> tuple[int, int]:
    """A Redis stream entry id (`<ms>-<seq>`) as a sortable key, across streams."""
    ms, _, seq = _as_bytes(entry_id).partition(b"-")
    return int(ms), int(seq or 0)


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()

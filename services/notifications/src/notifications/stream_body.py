"""The SSE body of one live stream: what was missed (`Last-Event-ID`), then the hub's live events,
until the token expires or the server stops, each end announced with a retry hint. Framing,
heartbeats and the client's disconnect are sse-starlette's; the fan-out is `stream.StreamHub`'s."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator

import anyio
from sse_starlette import ServerSentEvent

from notifications.stream import RESUME, SEP, STAFF, StreamEvent, StreamHub
from notifications.stream_limits import StreamPermit

#: A manager's stream remembers this many event ids to hear an event of their own once, not on both channels.
RECENT_EVENTS = 64


def _hint(retry_ms: int, comment: str) -> bytes:
    """A reconnection delay and a comment, the delay first (sse-starlette writes a comment first)."""
    return f"retry: {retry_ms}{SEP}: {comment}{SEP}{SEP}".encode()


#: The first frame of every stream: subscribed; reconnect after 2 s if it drops.
OPENING_FRAME = _hint(2000, "connected")
#: Sent before a stream ends because its token expired: reconnect soon, with a fresh token.
EXPIRED_FRAME = _hint(1000, "token expired; reconnect with a fresh token")
#: Sent before a stream ends because this process is stopping (SIGTERM): reconnect (to another
#: replica) at once; `Last-Event-ID` replays what was missed.
STOPPING_FRAME = _hint(500, "server stopping; reconnect")
#: Sent before a stream ends because it missed events (too slow a reader, or Redis dropped):
#: reconnect at once; `Last-Event-ID` replays them.
RESUME_FRAME = _hint(250, "fell behind; reconnect")


def heartbeat() -> ServerSentEvent:
    """The comment sse-starlette sends every heartbeat interval, so proxies keep the connection."""
    return ServerSentEvent(comment="keepalive", sep=SEP)


async def event_stream(
    hub: StreamHub,
    user_id: int,
    *,
    last_event_id: str | None,
    wake_seconds: float,
    expires_at: float | None = None,
    permit: StreamPermit | None = None,
    stopping: anyio.Event | None = None,
    staff: bool = False,
) -> AsyncIterator[bytes | ServerSentEvent]:
    """The SSE body: replay what was missed, then live events, until `expires_at` (the token's
    `exp`, Unix time) or `stopping` (sse-starlette sets it when the server shuts down), when it
    says so with a retry hint and ends. It wakes at least every `wake_seconds` to renew the
    stream's permit; framing, heartbeats and the client's disconnect are sse-starlette's. A
    `staff` stream (a manager's) hears the `STAFF` audience's events as well, each once (an event
    of the manager's own arrives on both channels, one right after the other)."""
    audiences = (user_id, STAFF) if staff else (user_id,)
    async with hub.listen(*audiences) as queue:
        yield OPENING_FRAME
        replayed: set[str] = set()
        recent: deque[str] = deque(maxlen=RECENT_EVENTS if staff else 0)
        if last_event_id:
            for event in await hub.history_after(audiences, last_event_id):
                replayed.add(event.event_id)
                yield event.message()
        while True:
            if stopping is not None and stopping.is_set():
                yield STOPPING_FRAME
                return
            if permit is not None:
                await permit.keep_alive()
            wait = wake_seconds
            if expires_at is not None:
                left = expires_at - time.time()
                if left <= 0:
                    yield EXPIRED_FRAME
                    return
                wait = min(wait, left)
            live = await _next_event(queue, wait, stopping)
            if live is RESUME:
                yield RESUME_FRAME
                return
            if live is not None and live.event_id not in replayed and live.event_id not in recent:
                recent.append(live.event_id)
                yield live.message()


async def _next_event(
    queue: asyncio.Queue[StreamEvent], wait: float, stopping: anyio.Event | None
) -> StreamEvent | None:
    """The next event within `wait` seconds; None when none came or the server began stopping."""
    if stopping is None:
        try:
            return await asyncio.wait_for(queue.get(), wait)
        except TimeoutError:
            return None
    got: list[StreamEvent] = []
    with anyio.move_on_after(wait):
        async with anyio.create_task_group() as group:

            async def take() -> None:
                got.append(await queue.get())
                group.cancel_scope.cancel()

            async def watch() -> None:
                await stopping.wait()
                group.cancel_scope.cancel()

            group.start_soon(take)
            group.start_soon(watch)
    # An event taken just as the wait ran out is this one: the deadline must not drop it.
    return got[0] if got else None

"""Waiting for a stream's next event: an event taken off the queue as the wait runs out is sent."""

from __future__ import annotations

import asyncio

import anyio

from notifications.stream import StreamEvent
from notifications.stream_body import _next_event


async def test_an_event_taken_as_the_wait_runs_out_is_not_dropped() -> None:
    queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
    event = StreamEvent("1-0", "order.status_changed", "{}")
    queue.put_nowait(event)
    assert await _next_event(queue, 0.0, anyio.Event()) == event
    assert queue.empty()


async def test_no_event_within_the_wait_is_none() -> None:
    queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
    assert await _next_event(queue, 0.01, anyio.Event()) is None


async def test_a_server_stopping_ends_the_wait_at_once() -> None:
    queue: asyncio.Queue[StreamEvent] = asyncio.Queue()
    stopping = anyio.Event()
    stopping.set()
    with anyio.fail_after(1):
        assert await _next_event(queue, 30.0, stopping) is None

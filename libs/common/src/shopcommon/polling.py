"""The one poll loop: look at something until it is what the caller waits for, or time is up.

    order = await poll(lambda: orders.get(order_id), until=is_settled_order, timeout=5.0)

`probe` is called at once, then again after short pauses that grow (`pause`, times `backoff`,
at most `max_pause`) and never run past the deadline; the last look is taken at the deadline.
The answer is the last value `probe` returned: the caller tells "arrived" from "timed out" by
checking it (`until(value)`), and uses it either way (a timed-out wait answers what it saw).

An exception from `probe` ends the wait and propagates: a probe that should wait through an
error ("still in use, ask again") catches it and returns a value `until` refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool],
    timeout: float,
    pause: float = 0.005,
    max_pause: float = 0.1,
    backoff: float = 2.0,
) -> T:
    """Call `probe` until `until(value)` holds or `timeout` seconds have passed; the last value."""
    if pause <= 0 or max_pause < pause or backoff < 1:
        raise ValueError("poll needs 0 < pause <= max_pause and backoff >= 1")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, timeout)
    while True:
        value = await probe()
        left = deadline - loop.time()
        if until(value) or left <= 0:
            return value
        await asyncio.sleep(min(pause, left))
        pause = min(pause * backoff, max_pause)

"""Composed answers (a catalogue page with its stock, one product with its stock) kept in-process
for a bounded time, refilled once however many requests ask at the same moment.

Freshness bound: an entry's age is counted from the moment its refill *started* (before it asked
LOMS and product-stub), so whatever it holds was read at most `max_age` seconds before any request
it answers. A failed refill is not kept: each waiter gets the failure, the next request tries again.

Single flight: while a key is being refilled, every other request for it awaits that same refill
(32 clients asking for one page make one refill, not 32). Each process keeps its own entries; the
bound holds for each, so it holds however many workers run.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class PageCache(Generic[V]):
    def __init__(self, *, max_age: float, max_entries: int = 1024) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._refills: dict[str, asyncio.Future[V]] = {}
        #: Refills started (a test and the benchmark read it).
        self.refills = 0

    def fresh(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    async def get(self, key: str, refill: Callable[[], Awaitable[V]]) -> V:
        """The fresh entry under `key`, or the value of one refill shared by every caller waiting."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        running = self._refills.get(key)
        if running is None:
            running = asyncio.ensure_future(self._refill(key, refill))
            running.add_done_callback(_retrieve)
            self._refills[key] = running
        # The refill runs as its own task, shielded: a caller that goes away (its client hung up)
        # cancels its own wait, never the refill the others are waiting for.
        return await asyncio.shield(running)

    async def _refill(self, key: str, refill: Callable[[], Awaitable[V]]) -> V:
        self.refills += 1
        started = time.monotonic()
        try:
            value = await refill()
        finally:
            del self._refills[key]
        if self.max_age > 0:
            self._entries[key] = (started + self.max_age, value)
            self._entries.move_to_end(key)
            self._evict(time.monotonic())
        return value

    def _evict(self, now: float) -> None:
        """Drop expired entries and, past `max_entries`, the oldest. Every entry lives `max_age` and
        goes in at the end, so the oldest (first to expire) are at the front: memory holds what was
        composed in the last `max_age` seconds, never more than `max_entries` answers."""
        entries = self._entries
        while entries:
            first = next(iter(entries.values()))
            if first[0] > now and len(entries) <= self.max_entries:
                break
            entries.popitem(last=False)


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a failure seen: when every waiter has gone, asyncio would warn it was never retrieved."""
    if not task.cancelled():
        task.exception()

"""PageCache on its own: one refill for callers arriving together, an age counted from the refill's
start, failures not kept, a caller leaving without cancelling the others' refill, bounded memory."""

from __future__ import annotations

import asyncio
import time

import pytest

from checkout.shopping.page_cache import PageCache


class Source:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("down")
        return self.calls


async def test_callers_arriving_together_share_one_refill() -> None:
    cache: PageCache[int] = PageCache(max_age=1.0)
    source = Source(delay=0.05)
    assert await asyncio.gather(*(cache.get("k", source) for _ in range(32))) == [1] * 32
    assert source.calls == 1 and cache.refills == 1
    assert await cache.get("k", source) == 1  # fresh: no refill
    assert await cache.get("other", source) == 2


async def test_the_age_counts_from_the_start_of_the_refill() -> None:
    cache: PageCache[int] = PageCache(max_age=0.2)
    source = Source(delay=0.15)
    started = time.monotonic()
    await cache.get("k", source)
    await asyncio.sleep(max(0.0, started + 0.21 - time.monotonic()))
    assert cache.fresh("k") is None  # 0.21 s after the read began, though only ~0.06 s after it ended
    assert await cache.get("k", source) == 2


async def test_a_failed_refill_reaches_every_waiter_and_is_not_kept() -> None:
    cache: PageCache[int] = PageCache(max_age=1.0)
    source = Source(delay=0.02)
    source.fail = True
    results = await asyncio.gather(*(cache.get("k", source) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and source.calls == 1
    source.fail = False
    assert await cache.get("k", source) == 2


async def test_a_caller_going_away_does_not_cancel_the_refill_others_wait_for() -> None:
    cache: PageCache[int] = PageCache(max_age=1.0)
    source = Source(delay=0.05)
    leaving = asyncio.create_task(cache.get("k", source))
    staying = asyncio.create_task(cache.get("k", source))
    await asyncio.sleep(0.01)
    leaving.cancel()
    assert await staying == 1
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert cache.fresh("k") == 1 and source.calls == 1


async def test_memory_holds_only_recent_answers_and_at_most_max_entries() -> None:
    cache: PageCache[int] = PageCache(max_age=0.1, max_entries=5)
    source = Source()
    for i in range(8):
        await cache.get(f"k{i}", source)
    assert len(cache._entries) == 5
    await asyncio.sleep(0.11)
    await cache.get("late", source)
    assert list(cache._entries) == ["late"]

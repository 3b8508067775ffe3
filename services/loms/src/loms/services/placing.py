"""The orders a process places, in batches: what arrives while a batch is in flight goes together
in the next one.

A create with `Prefer: wait` hands its order to the process's `OrderPlacer` and waits for the
outcome. At most `lanes` batches run at once, each on a writer connection; a request that finds
a lane free is placed at once, alone, so an idle system adds no delay. Under load, the orders that
queued while every lane was busy go together, in arrival order, as one transaction of one round
trip (`repositories/placement.py`): one commit and one call into the driver for many orders,
where an order on its own costs two of each.

A batch that fails is rolled back whole, and its orders are then placed one by one, each in a
transaction of its own, so one order's error (an idempotency key a concurrent request is writing,
a deadlock) is that order's alone. Stock raised while a batch waited for its rows can fail its
first statement's check (see `repositories/reservations.py`); the batch is then run again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from loms.repositories import placement
from loms.repositories.placement import Placed, Placement

log = logging.getLogger(__name__)

#: Runs of a batch whose first statement met stock raised under it.
RETRIES_AFTER_RAISED_STOCK = 3
#: Order ids taken from the sequence at a time (gaps are harmless, as with any sequence).
ID_BLOCK = 64
#: Order lines in a batch, at most (one order may bring more, alone). asyncpg sends a pipeline in
#: 128 KB pieces and lets the event loop run between them, while the server holds the batch's
#: locks; an order is ~1.5 KB and ~120 bytes a line, so a batch stays within one piece.
MAX_BATCH_LINES = 256


@dataclass
class _Pending:
    #: Builds the placement once its order id is known.
    build: Callable[[int], Placement]
    lines: int
    done: asyncio.Future[tuple[Placement, Placed]]
    placement: Placement | None = field(default=None)


class OrderPlacer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        lanes: int,
        max_batch: int,
        wake_relay: Callable[[], Callable[[], None] | None],
    ) -> None:
        """`wake_relay()` gives what to call after a commit to wake this process's relay, or None
        when none runs here: the batch's commit then notifies (see `db.RelayWakeups`)."""
        self._pool = pool
        self._lanes = lanes
        self._max_batch = max_batch
        self._wake_relay = wake_relay
        self._queue: deque[_Pending] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids: deque[int] = deque()
        #: Batches placed since start, the orders in them, and batches rolled back and placed
        #: one by one instead.
        self.batches = 0
        self.orders = 0
        self.failed_batches = 0

    async def place(self, build: Callable[[int], Placement], lines: int) -> tuple[Placement, Placed]:
        """Place the order of `lines` lines that `build(order_id)` describes; its placement and
        what became of it."""
        pending = _Pending(build, lines, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if self._running < self._lanes:
            self._running += 1
            # A context of its own: the lane serves many requests, not the one that started it.
            task = asyncio.create_task(self._lane(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await pending.done

    async def close(self) -> None:
        """Wait for the batches in flight."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _lane(self) -> None:
        try:
            while self._queue:
                batch = self._next_batch()
                try:
                    await self._run(batch)
                except BaseException as exc:  # the lane's own failure reaches every waiting request
                    for pending in batch:
                        if not pending.done.done():
                            pending.done.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self._running -= 1

    def _next_batch(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        lines = batch[0].lines
        while self._queue and len(batch) < self._max_batch and lines + self._queue[0].lines <= MAX_BATCH_LINES:
            lines += self._queue[0].lines
            batch.append(self._queue.popleft())
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        async with self._pool.acquire() as conn:
            if len(self._ids) < len(batch):
                self._ids.extend(await placement.next_order_ids(conn, max(ID_BLOCK, len(batch))))
            for pending in batch:
                pending.placement = pending.build(self._ids.popleft())
            placements = [p.placement for p in batch if p.placement is not None]
            try:
                results = await self._place(conn, placements)
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if len(batch) == 1:
                    raise
                self.failed_batches += 1
                log.info("a batch of %d orders failed (%s); placing them one by one", len(batch), exc)
                for pending, single in zip(batch, placements, strict=True):
                    try:
                        [placed] = await self._place(conn, [single])
                    except Exception as single_exc:
                        if not pending.done.done():
                            pending.done.set_exception(single_exc)
                    else:
                        self._finish(pending, single, placed)
                self._woken()
                return
        self._woken()
        for pending, single, placed in zip(batch, placements, results, strict=True):
            self._finish(pending, single, placed)

    async def _place(self, conn: asyncpg.Connection, batch: Sequence[Placement]) -> list[Placed]:
        for attempt in range(1, RETRIES_AFTER_RAISED_STOCK + 2):
            try:
                results = await placement.place_orders(conn, batch, notify=self._wake_relay() is None)
            except asyncpg.CheckViolationError:
                if attempt > RETRIES_AFTER_RAISED_STOCK:
                    raise
                continue
            self.batches += 1
            self.orders += len(batch)
            return results
        raise AssertionError("unreachable")

    def _woken(self) -> None:
        wake = self._wake_relay()
        if wake is not None:
            wake()

    @staticmethod
    def _finish(pending: _Pending, single: Placement, placed: Placed) -> None:
        if not pending.done.done():
            pending.done.set_result((single, placed))

"""The orders a process places, in batches: what arrives while a batch is in flight goes together
in the next one.

A create with `Prefer: wait` hands its order to the process's `OrderPlacer` and waits for the
outcome. At most `lanes` batches run at once, each on a writer connection; a request that finds
a lane free is placed at once, alone, so an idle system adds no delay. Under load, the orders that
queued while every lane was busy go together, in arrival order, as one transaction of one round
trip (`repositories/placement.py`): one commit and one call into the driver for many orders.
A request waits for its placement up to its `Prefer: wait`. A placement that has not begun by
then (every lane busy, say behind a lock) is withdrawn (`NotBegun`) and the order is recorded
`new` for the intake worker instead; one whose batch has begun is awaited: its transaction
decides.

Conflicts with concurrent transactions roll a batch back and run it again, up to
`RETRIES_AFTER_CONFLICT` times: stock raised while it waited for its rows (see
`repositories/reservations.py`); an Idempotency-Key that a concurrent request stored meanwhile
(the run again finds it stored, and that order is answered as a duplicate); a deadlock. A batch
that fails otherwise is rolled back whole and its orders are placed one by one, each in a
transaction of its own, so an order the database refuses fails alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from loms.domain.limits import UnpaidLimits
from loms.repositories import placement
from loms.repositories.placement import Placed, Placement
from shopcommon.problems import ServiceUnavailable

log = logging.getLogger(__name__)

#: Runs again of a batch that met a concurrent transaction (see the module's docstring).
RETRIES_AFTER_CONFLICT = 3
#: Order lines in a batch, at most (one order may bring more, alone). asyncpg sends a pipeline in
#: 128 KB pieces and lets the event loop run between them, while the server holds the batch's
#: locks; an order is ~1.5 KB and ~120 bytes a line, so a batch stays well within one piece.
MAX_BATCH_LINES = 128


def _conflict(exc: BaseException) -> bool:
    """An error a concurrent transaction caused, which a new run of the batch resolves."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return exc.constraint_name == "pk_idempotency_keys"
    return isinstance(exc, asyncpg.CheckViolationError | asyncpg.DeadlockDetectedError)


@dataclass
class _Pending:
    placement: Placement
    lines: int
    done: asyncio.Future[Placed]


class NotBegun(Exception):
    """Nothing was written for the placement: it was still queued when its wait ran out, or it kept
    meeting concurrent transactions. The caller records the order for the intake worker."""


class OrderPlacer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        lanes: int,
        max_batch: int,
        wake_relay: Callable[[], Callable[[], None] | None],
        limits: UnpaidLimits = UnpaidLimits(),
    ) -> None:
        """`wake_relay()` gives what to call after a commit to wake this process's relay, or None
        when none runs here: the batch's commit then notifies (see `db.Wakeups`). An order
        of a user who holds as much unpaid as `limits` allow is not placed (`Placed.refused`)."""
        self._pool = pool
        self._limits = limits
        self._lanes = lanes
        self._max_batch = max_batch
        self._wake_relay = wake_relay
        self._queue: deque[_Pending] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        #: Batches placed since start, the orders in them, and batches rolled back and placed
        #: one by one instead.
        self.batches = 0
        self.orders = 0
        self.failed_batches = 0

    async def place(self, placement: Placement, wait: float | None = None) -> Placed:
        """Place the order `placement` describes (built whole, its id included); what became of it.
        NotBegun when no batch took it within `wait` seconds."""
        if self._closing:
            raise ServiceUnavailable("LOMS is stopping; retry.")
        pending = _Pending(placement, len(placement.items), asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if self._running < self._lanes:
            self._running += 1
            # A context of its own: the lane serves many requests, not the one that started it.
            task = asyncio.create_task(self._lane(), context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if wait is None:
            return await pending.done
        try:
            async with asyncio.timeout(wait):
                return await asyncio.shield(pending.done)
        except TimeoutError:
            if pending not in self._queue:
                return await pending.done  # in a batch already
            self._queue.remove(pending)
            raise NotBegun from None

    async def close(self) -> None:
        """Wait for the batches in flight; what is queued after that is refused."""
        self._closing = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail(self._queue, ServiceUnavailable("LOMS is stopping; retry."))
        self._queue.clear()

    async def _lane(self) -> None:
        try:
            while self._queue:
                batch = self._next_batch()
                try:
                    await self._run(batch)
                except Exception as exc:  # the lane's own failure reaches every request of the batch
                    self._fail(batch, exc)
                except BaseException:
                    # Cancelled (the process is stopping): nobody will place what is left.
                    self._fail([*batch, *self._queue], ServiceUnavailable("LOMS is stopping; retry."))
                    self._queue.clear()
                    raise
        finally:
            self._running -= 1

    @staticmethod
    def _fail(batch: Sequence[_Pending], exc: BaseException) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(exc)

    def _next_batch(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        lines = batch[0].lines
        while self._queue and len(batch) < self._max_batch and lines + self._queue[0].lines <= MAX_BATCH_LINES:
            lines += self._queue[0].lines
            batch.append(self._queue.popleft())
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        async with self._pool.acquire() as conn:
            try:
                results = await self._place(conn, [p.placement for p in batch])
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if len(batch) == 1:
                    raise
                self.failed_batches += 1
                log.info("a batch of %d orders failed (%s); placing them one by one", len(batch), exc)
                await self._one_by_one(conn, batch)
                self._woken()
                return
        self._woken()
        for pending, placed in zip(batch, results, strict=True):
            self._finish(pending, placed)

    async def _one_by_one(self, conn: asyncpg.Connection, batch: list[_Pending]) -> None:
        for pending in batch:
            try:
                [placed] = await self._place(conn, [pending.placement])
            except Exception as exc:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            else:
                self._finish(pending, placed)

    async def _place(self, conn: asyncpg.Connection, batch: Sequence[Placement]) -> list[Placed]:
        for attempt in range(1, RETRIES_AFTER_CONFLICT + 2):
            try:
                results = await placement.place_orders(
                    conn, batch, notify=self._wake_relay() is None, limits=self._limits
                )
            except asyncpg.PostgresError as exc:
                if not _conflict(exc):
                    raise
                if attempt > RETRIES_AFTER_CONFLICT:
                    if len(batch) == 1:  # nothing was written: the intake worker, which retries, places it
                        raise NotBegun(f"met concurrent transactions {attempt} times ({exc})") from exc
                    raise
                log.info("a batch of %d orders met a concurrent transaction (%s); running it again", len(batch), exc)
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
    def _finish(pending: _Pending, placed: Placed) -> None:
        if not pending.done.done():
            pending.done.set_result(placed)

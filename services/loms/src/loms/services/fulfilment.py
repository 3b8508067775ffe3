"""Fulfilment: tasks for paid orders, their assignment to workers, and their life cycle.

* A pass (`Fulfilment.run_pass`, the fulfilment worker calls it) makes the tasks of the paid orders
  in `task_queue` (one per product category among the order's lines), assigns them, and dequeues
  the orders, all in one transaction per batch: a pass that dies midway leaves the queue as it
  was. It then assigns tasks left `unassigned` to workers that have appeared and moves the open
  tasks of workers no longer active.
* Assignment is serialised per category by a transaction-scoped advisory lock on the category
  (`repositories.tasks.lock_categories`): whoever holds it reads every candidate's load and
  assigns, so passes in several processes choose one after the other from the same counts. A
  pass takes the locks of every category its candidates work in (`Roster.sharing`): a worker of
  two categories is one person, whose load both count.
* Every change writes its `task.status_changed` event to the outbox in its own transaction; the
  last task done completes the order (under the order's row lock, so exactly once).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from loms.clients.catalogue import CatalogueClient
from loms.clients.workers import Roster, WorkerDirectory
from loms.domain.tasks import (
    UNKNOWN_CATEGORY,
    NotAWorker,
    Task,
    TaskNotFound,
    TaskTransitionRefused,
    WorkerLoad,
    choose_worker,
    split_by_category,
    task_event,
)
from loms.repositories import tasks as repo
from loms.services.clock import utcnow
from shopcommon.auth import Principal, Scope
from shopcommon.problems import ServiceUnavailable
from shopcommon.statuses import TaskStatus

log = logging.getLogger(__name__)


class Assigner:
    """Assignments within one transaction holding the locks of the categories concerned: loads are
    read once per category and kept up to date as tasks are handed out."""

    def __init__(self, conn: AsyncConnection, roster: Roster) -> None:
        self.conn = conn
        self.roster = roster
        self._loads: dict[str, list[WorkerLoad]] = {}

    async def _category_loads(self, category: str) -> list[WorkerLoad]:
        if category not in self._loads:
            workers = self.roster.of_category(category)
            self._loads[category] = await repo.loads(self.conn, workers) if workers else []
        return self._loads[category]

    async def place(self, task: Task) -> Task:
        """`task` (locked, or new in this transaction) to the least loaded worker of its category,
        or `unassigned` when the category has none."""
        loads = await self._category_loads(task.category)
        chosen = choose_worker(loads)
        now = utcnow()
        if chosen is None:
            if task.status == TaskStatus.UNASSIGNED:
                return task
            return await repo.update(
                self.conn, task.id, status=TaskStatus.UNASSIGNED, worker_id=None, now=now, assigning=False
            )
        # The chosen worker's load is counted for the next choice, and in every other category
        # they work in (a worker of two categories is one person).
        for category_loads in self._loads.values():
            for i, load in enumerate(category_loads):
                if load.worker_id == chosen.worker_id:
                    category_loads[i] = WorkerLoad(load.worker_id, load.open_tasks + 1, now)
        return await repo.update(
            self.conn, task.id, status=TaskStatus.ASSIGNED, worker_id=chosen.worker_id, now=now, assigning=True
        )

    async def place_all(self, tasks: Iterable[Task], topic: str, *, new: bool = False) -> None:
        """Each task placed, in order, and its `task.status_changed` written (a new task's without a
        previous status)."""
        events = []
        for task in tasks:
            placed = await self.place(task)
            events.append(task_event(placed, None if new else task))
        await repo.write_events(self.conn, topic, events)


@dataclass
class PassResult:
    created: int = 0
    assigned: int = 0
    moved: int = 0


#: How long a sku's category read from the catalogue names its tasks before it is read again.
CATEGORY_FRESH_SECONDS = 60.0


@dataclass
class Fulfilment:
    engine: AsyncEngine
    catalogue: CatalogueClient
    directory: WorkerDirectory
    topic: str
    batch_size: int = 50
    _checked_roster: Roster | None = field(default=None, init=False)

    async def run_pass(self) -> PassResult:
        result = PassResult()
        try:
            roster = await self.directory.roster()
            fresh = True
        except ServiceUnavailable as exc:
            # Tasks are still made (the known workers get them, or they wait `unassigned`);
            # nobody's tasks are moved on a roster checkout did not just confirm.
            log.warning("worker roster not refreshed (%s); using the last one", exc.detail)
            roster, fresh = self.directory.last or Roster(), False
        result.created = await self.create_tasks(roster)
        if fresh:
            roster = await self._roster_for_waiting(roster)
            if roster is not self._checked_roster:
                result.moved = await self.move_from_inactive(roster)
                self._checked_roster = roster
        result.assigned = await self.assign_waiting(roster)
        return result

    async def _refreshed(self, roster: Roster) -> Roster:
        try:
            return await self.directory.refresh_on_miss()
        except ServiceUnavailable:
            return roster

    async def _roster_for_waiting(self, roster: Roster) -> Roster:
        """A category waiting for a worker asks checkout again (at most every few seconds)."""
        async with self.engine.connect() as conn:
            waiting = await _waiting_categories(conn)
        if any(not roster.of_category(c) for c in waiting):
            return await self.directory.refresh_on_miss()
        return roster

    # --- tasks of paid orders -------------------------------------------------------------------

    async def create_tasks(self, roster: Roster) -> int:
        """Tasks for the paid orders queued. While the catalogue is down, the orders with a sku
        never seen wait (their category is unknown) and the others get their tasks."""
        created = 0
        while True:
            async with self.engine.connect() as conn:
                peeked, skus, known = await _queued(conn, self.batch_size, claim=False)
                if not peeked:
                    return created
                try:
                    fetched, reachable = await self._categories(conn, skus, known), True
                except ServiceUnavailable as exc:
                    log.warning("catalogue unavailable (%s); orders of skus never seen wait", exc.detail)
                    fetched, reachable = {}, False
                if fetched:
                    await repo.remember_categories(conn, fetched)
                    await conn.commit()
                    known.update(fetched)
            if any(not roster.of_category(c) for c in {known[s] for s in skus if s in known}):
                roster = await self._refreshed(roster)  # a worker may have just joined
            made = await self._create_batch(roster)
            if made is None:
                return created  # what is queued is held by another pass, or waits for the catalogue
            created += made
            if not reachable:
                return created  # one batch without it; the next pass asks it again

    async def _categories(self, conn: AsyncConnection, skus: list[int], known: dict[int, str]) -> dict[int, str]:
        """The categories to remember: those of skus never seen, and of those read more than
        `CATEGORY_FRESH_SECONDS` ago (a category renamed since names the tasks of orders paid now).
        While the catalogue does not answer the remembered ones serve; a sku it no longer lists (a
        product deleted after it was bought) keeps the category it had rather than `uncategorised`."""
        missing = [s for s in skus if s not in known]
        stale = await repo.stale_categories(conn, [s for s in skus if s in known], CATEGORY_FRESH_SECONDS)
        if not missing and not stale:
            return {}
        try:
            fetched = await self.catalogue.categories(missing + stale)
        except ServiceUnavailable:
            if missing:
                raise
            return {}
        # Remembered again with the time it was asked, so a deleted product is not asked every pass.
        return {s: known[s] if s in known and c == UNKNOWN_CATEGORY else c for s, c in fetched.items()}

    async def _create_batch(self, roster: Roster) -> int | None:
        async with self.engine.begin() as conn:
            claimed, _, categories = await _queued(conn, self.batch_size, claim=True)
            if not claimed:
                return None
            # Only orders whose skus all have a known category are claimed (`repo.queued`).
            rows = [
                (order_id, category, items)
                for order_id, lines in claimed
                for category, items in split_by_category(lines, categories).items()
            ]
            now = utcnow()
            new = await repo.insert_unassigned(conn, rows, now)
            await repo.lock_categories(conn, roster.sharing(t.category for t in new))
            await Assigner(conn, roster).place_all(sorted(new, key=lambda t: t.id), self.topic, new=True)
            await repo.dequeue(conn, [order_id for order_id, _ in claimed])
            return len(new)

    # --- waiting and orphaned tasks -------------------------------------------------------------

    async def assign_waiting(self, roster: Roster) -> int:
        assigned = 0
        async with self.engine.connect() as conn:
            waiting = await _waiting_categories(conn)
        for category in waiting:
            if not roster.of_category(category):
                continue
            while True:
                async with self.engine.begin() as conn:
                    await repo.lock_categories(conn, roster.sharing([category]))
                    found = await repo.unassigned(conn, category, self.batch_size)
                    await Assigner(conn, roster).place_all(found, self.topic)
                assigned += len(found)
                if len(found) < self.batch_size:
                    break
        return assigned

    async def move_from_inactive(self, roster: Roster) -> int:
        """The open tasks of workers no longer active go to others (or wait, `unassigned`)."""
        active = sorted(roster.workers)
        async with self.engine.connect() as conn:
            held = await repo.held_by_inactive(conn, active, limit=10_000)
        if not held:
            return 0
        # Checkout may know a worker this process has not seen yet: ask again before moving.
        roster = await self.directory.refresh_on_miss(force=True)
        active = sorted(roster.workers)
        by_category: dict[str, list[int]] = defaultdict(list)
        for task in held:
            if not roster.is_active(task.worker_id or 0):
                by_category[task.category].append(task.id)
        moved = 0
        for category, ids in sorted(by_category.items()):
            async with self.engine.begin() as conn:
                await repo.lock_categories(conn, roster.sharing([category]))
                locked = await repo.lock_held_by_inactive(conn, ids, active)
                await Assigner(conn, roster).place_all(locked, self.topic)
            moved += len(locked)
        if moved:
            log.info("moved %d open tasks of workers no longer active", moved)
        return moved

    # --- what workers and managers do -------------------------------------------------------------

    async def assign(self, conn: AsyncConnection, *, caller: Principal, task_id: int, worker_id: int) -> Task:
        """A manager hands a task to an active worker (any category); a done task stays done."""
        caller.ensure_scope(Scope.ORDERS_WRITE)
        current = await repo.get(conn, task_id)
        if current is None:
            raise TaskNotFound(task_id)
        roster = await self.directory.roster()
        if not roster.is_active(worker_id):
            roster = await self.directory.refresh_on_miss(force=True)
            if not roster.is_active(worker_id):
                raise NotAWorker(worker_id)
        await repo.lock_categories(conn, [current.category])
        task = await repo.lock(conn, task_id)
        if task is None:
            raise TaskNotFound(task_id)
        if task.status == TaskStatus.DONE:
            raise TaskTransitionRefused(task.id, task.status, TaskStatus.ASSIGNED)
        if task.worker_id == worker_id:
            return task  # already theirs: nothing changes, no event
        changed = await repo.update(
            conn, task.id, status=TaskStatus.ASSIGNED, worker_id=worker_id, now=utcnow(), assigning=True
        )
        await repo.write_events(conn, self.topic, [task_event(changed, task)])
        return changed


async def _queued(
    conn: AsyncConnection, limit: int, *, claim: bool
) -> tuple[list[repo.QueuedOrder], list[int], dict[int, str]]:
    """Paid orders waiting for tasks (`repo.queued`), their skus, and the categories known of those."""
    found = await repo.queued(conn, limit, claim=claim)
    if not found:
        return found, [], {}
    skus = sorted({sku for _, lines in found for sku, _ in lines})
    return found, skus, await repo.cached_categories(conn, skus)


async def _waiting_categories(conn: AsyncConnection) -> list[str]:
    return await repo.waiting_categories(conn)

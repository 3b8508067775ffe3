"""What workers and managers do with tasks: read them, start and finish one's own.

A worker reaches only the tasks assigned to them (another's is reported missing); the last task
of an order done completes the order. Making and assigning tasks is `services.fulfilment`'s.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from loms.domain.statuses import OrderStatus
from loms.domain.tasks import Task, TaskNotFound, TaskTransitionRefused, task_event
from loms.repositories import orders
from loms.repositories import tasks as repo
from loms.services.clock import utcnow
from shopcommon.auth import Principal, Role, Scope
from shopcommon.pagination import newest_first
from shopcommon.problems import Forbidden
from shopcommon.statuses import TaskStatus


def _own_task(caller: Principal, task: Task | None, task_id: int) -> Task:
    """A worker reaches only the tasks assigned to them; another's is reported missing."""
    if task is None or task.worker_id is None or task.worker_id != caller.user_id:
        raise TaskNotFound(task_id)
    return task


async def start_task(conn: AsyncConnection, *, caller: Principal, task_id: int, topic: str) -> Task:
    task = _own_task(caller, await repo.lock(conn, task_id), task_id)
    if task.status != TaskStatus.ASSIGNED:
        raise TaskTransitionRefused(task.id, task.status, "started")
    changed = await repo.update(
        conn, task.id, status=TaskStatus.IN_PROGRESS, worker_id=task.worker_id, now=utcnow(), assigning=False
    )
    await repo.write_events(conn, topic, [task_event(changed, task)])
    return changed


async def finish_task(conn: AsyncConnection, *, caller: Principal, task_id: int, topic: str) -> Task:
    """`in_progress` -> `done`; the order's last task done completes the order, once: the order's
    row lock makes finishers of one order take turns, and each looks at the others' tasks after
    the one before it committed."""
    task = _own_task(caller, await repo.lock(conn, task_id), task_id)
    if task.status != TaskStatus.IN_PROGRESS:
        raise TaskTransitionRefused(task.id, task.status, TaskStatus.DONE)
    now = utcnow()
    changed = await repo.update(
        conn, task.id, status=TaskStatus.DONE, worker_id=task.worker_id, now=now, assigning=False
    )
    await repo.write_events(conn, topic, [task_event(changed, task)])
    order = await orders.lock(conn, task.order_id)
    if order is not None and order.status == OrderStatus.PAID and await repo.not_done(conn, order.id) == 0:
        await orders.move(conn, [order], OrderStatus.COMPLETED, now=now, topic=topic, request_id=None)
    return changed


def _sees_everyone(caller: Principal) -> bool:
    return caller.role == Role.MANAGER or (caller.role == Role.SERVICE and Scope.ORDERS_READ in caller.scopes)


async def get_task(conn: AsyncConnection, *, caller: Principal, task_id: int) -> Task:
    caller.ensure_scope(Scope.ORDERS_READ)
    task = await repo.get(conn, task_id)
    if _sees_everyone(caller):
        if task is None:
            raise TaskNotFound(task_id)
        return task
    return _own_task(caller, task, task_id)


async def list_tasks(
    conn: AsyncConnection,
    *,
    caller: Principal,
    status: TaskStatus | None,
    worker_id: int | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Newest first. A worker lists their own tasks; managers everyone's, optionally one worker's."""
    caller.ensure_scope(Scope.ORDERS_READ)
    if not _sees_everyone(caller):
        if worker_id is not None and worker_id != caller.user_id:
            raise Forbidden("Workers list only their own tasks.")
        worker_id = caller.user_id
    found, next_cursor = await newest_first(
        lambda before, n: repo.page(conn, worker_id=worker_id, status=status, before_id=before, limit=n),
        cursor,
        limit,
        lambda task: task.id,
    )
    return {"items": [t.as_wire() for t in found], "next_cursor": next_cursor}

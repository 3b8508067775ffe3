"""Fulfilment task routes (CONTRACT.md "Fulfilment"): LOMS's `/api/v1/tasks`, served to clients
with the caller's own token (`usecases.tasks`), as orders are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from checkout.shopping.deps import ShoppingDep
from checkout.shopping.schemas import AssignIn, Task, TaskPage
from checkout.shopping.usecases import tasks
from shopcommon.pagination import CursorQuery
from shopcommon.statuses import TaskStatus
from shopcommon.task_roles import ASSIGNERS, READERS, WORKER, Assigner, Reader, Worker
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
TaskPath = Annotated[int, Path(ge=1, le=MAX_JSON_INT, description="A positive id (at most 2^53-1).")]


@router.get(
    "",
    response_model=TaskPage,
    summary="Tasks, newest first (a worker: their own; managers: all, `worker_id` filters)",
    description="A worker naming another `worker_id` is 403. `status` filters; `cursor` pages.",
    **READERS.doc(400, 422, 503),
)
async def list_tasks(
    principal: Reader,
    shop: ShoppingDep,
    status: TaskStatus | None = None,
    worker_id: Annotated[int | None, Query(ge=1, le=MAX_JSON_INT)] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> TaskPage:
    return await tasks.list_tasks(shop, principal, status=status, worker_id=worker_id, cursor=cursor, limit=limit)


@router.get(
    "/{task_id}",
    response_model=Task,
    summary="One task (a worker: only their own; another's is 404)",
    **READERS.doc(404, 422, 503),
)
async def get_task(task_id: TaskPath, principal: Reader, shop: ShoppingDep) -> Task:
    return await tasks.get_task(shop, principal, task_id)


@router.post(
    "/{task_id}/start",
    response_model=Task,
    summary="Start a task: `assigned` -> `in_progress`",
    description="Only by the worker it is assigned to (another's task is 404); any other status is 409.",
    **WORKER.doc(404, 409, 422, 503),
)
async def start_task(task_id: TaskPath, principal: Worker, shop: ShoppingDep) -> Task:
    return await tasks.move_task(shop, principal, task_id, "start")


@router.post(
    "/{task_id}/done",
    response_model=Task,
    summary="Finish a task: `in_progress` -> `done`",
    description="Only by the worker it is assigned to (another's task is 404); any other status is 409. "
    "The last task of an order done makes the order `completed`.",
    **WORKER.doc(404, 409, 422, 503),
)
async def finish_task(task_id: TaskPath, principal: Worker, shop: ShoppingDep) -> Task:
    return await tasks.move_task(shop, principal, task_id, "done")


@router.post(
    "/{task_id}/assign",
    response_model=Task,
    summary="Assign a task to a worker",
    description="To an active worker (422 `not-an-active-worker` otherwise); it becomes `assigned`. "
    "A `done` task is 409.",
    **ASSIGNERS.doc(400, 404, 409, 422, 503),
)
async def assign_task(task_id: TaskPath, body: AssignIn, principal: Assigner, shop: ShoppingDep) -> Task:
    return await tasks.assign_task(shop, principal, task_id, worker_id=body.worker_id)

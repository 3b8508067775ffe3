"""LOMS REST (`/api/v1/tasks`): fulfilment tasks. Workers see and move their own; managers see
all and assign. Checkout serves the same routes to clients by forwarding the caller's token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from loms.api.deps import ConnDep, ReadConnDep, SettingsDep
from loms.services import task_actions
from loms.services.fulfilment import Fulfilment
from shopcommon.pagination import CursorQuery
from shopcommon.problems import ServiceUnavailable
from shopcommon.statuses import TaskStatus
from shopcommon.task_roles import ASSIGNERS, READERS, WORKER, Assigner, Reader, Worker
from shopcommon.validation import MAX_JSON_INT, Id

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

TaskId = Annotated[int, Path(ge=1, le=MAX_JSON_INT, description="A positive id (at most 2^53-1).")]


class TaskItemOut(BaseModel):
    sku: int
    count: int


class TaskOut(BaseModel):
    task_id: int
    order_id: int
    category: str = Field(description="The product category (product-stub's) of every item of the task.")
    items: list[TaskItemOut]
    worker_id: int | None = Field(description="The worker it is assigned to; null while `unassigned`.")
    status: TaskStatus
    assigned_at: datetime | None = Field(description="When it was last assigned.")
    created_at: datetime
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: Id = Field(description="An active worker (a checkout user with role `worker`).")


def _fulfilment(request: Request) -> Fulfilment:
    service: Fulfilment | None = getattr(request.app.state, "fulfilment", None)
    if service is None:
        raise ServiceUnavailable("Fulfilment is not running in this process.")
    return service


@router.get(
    "",
    response_model=TaskPage,
    summary="Tasks, newest first",
    description="A worker lists their own tasks (another `worker_id` is 403); managers and services "
    "everyone's, filtered by `worker_id` and `status` when given.",
    **READERS.doc(400, 422),
)
async def list_tasks(
    caller: Reader,
    conn: ReadConnDep,
    status: TaskStatus | None = None,
    worker_id: Annotated[int | None, Query(ge=1, le=MAX_JSON_INT)] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    return await task_actions.list_tasks(
        conn, caller=caller, status=status, worker_id=worker_id, cursor=cursor, limit=limit
    )


@router.get(
    "/{task_id}",
    response_model=TaskOut,
    summary="One task (a worker: only their own; another's is 404)",
    **READERS.doc(404, 422),
)
async def get_task(task_id: TaskId, caller: Reader, conn: ReadConnDep) -> dict[str, Any]:
    return (await task_actions.get_task(conn, caller=caller, task_id=task_id)).as_wire()


@router.post(
    "/{task_id}/start",
    response_model=TaskOut,
    summary="Start a task: `assigned` -> `in_progress`",
    description="Only by the worker it is assigned to (another's task is 404); any other status is 409.",
    **WORKER.doc(404, 409, 422),
)
async def start_task(task_id: TaskId, caller: Worker, conn: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    task = await task_actions.start_task(conn, caller=caller, task_id=task_id, topic=settings.order_events_topic)
    return task.as_wire()


@router.post(
    "/{task_id}/done",
    response_model=TaskOut,
    summary="Finish a task: `in_progress` -> `done`",
    description="Only by the worker it is assigned to (another's task is 404); any other status is 409. "
    "The last task of an order done makes the order `completed`.",
    **WORKER.doc(404, 409, 422),
)
async def finish_task(task_id: TaskId, caller: Worker, conn: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    task = await task_actions.finish_task(conn, caller=caller, task_id=task_id, topic=settings.order_events_topic)
    return task.as_wire()


@router.post(
    "/{task_id}/assign",
    response_model=TaskOut,
    summary="Assign a task to a worker",
    description="To any active worker (422 `not-an-active-worker` otherwise), from `unassigned`, "
    "`assigned` or `in_progress` (it becomes `assigned`); a `done` task is 409. Assigning a task to "
    "the worker who has it changes nothing.",
    **ASSIGNERS.doc(400, 404, 409, 422, 503),
)
async def assign_task(
    task_id: TaskId, body: AssignBody, caller: Assigner, conn: ConnDep, request: Request
) -> dict[str, Any]:
    task = await _fulfilment(request).assign(conn, caller=caller, task_id=task_id, worker_id=body.worker_id)
    return task.as_wire()

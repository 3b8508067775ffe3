"""Fulfilment tasks on the caller's behalf, through LOMS with the caller's own token: LOMS applies
its rules (a worker sees and moves only their own tasks, another's is 404; a wrong state is 409;
managers see all and assign). Its problem answers reach the client unchanged."""

from __future__ import annotations

from typing import Literal

from checkout.shopping.lifespan import Shopping
from checkout.shopping.schemas import Task, TaskPage
from shopcommon.auth import Principal
from shopcommon.statuses import TaskStatus


async def list_tasks(
    shop: Shopping,
    principal: Principal,
    *,
    status: TaskStatus | None,
    worker_id: int | None,
    cursor: str | None,
    limit: int,
) -> TaskPage:
    params = {"status": status, "worker_id": worker_id, "cursor": cursor, "limit": limit}
    return TaskPage.model_validate(await shop.loms.list_tasks(token=principal.token, params=params))


async def get_task(shop: Shopping, principal: Principal, task_id: int) -> Task:
    return Task.model_validate(await shop.loms.get_task(task_id, token=principal.token))


async def move_task(shop: Shopping, principal: Principal, task_id: int, action: Literal["start", "done"]) -> Task:
    return Task.model_validate(await shop.loms.move_task(task_id, action, token=principal.token))


async def assign_task(shop: Shopping, principal: Principal, task_id: int, *, worker_id: int) -> Task:
    body = {"worker_id": worker_id}
    return Task.model_validate(await shop.loms.move_task(task_id, "assign", token=principal.token, body=body))

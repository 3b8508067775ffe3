"""Fulfilment tasks: one per product category of a paid order, prepared by a worker of that
category. Their statuses, the moves a worker or a manager may make, the choice of a worker, and
the `task.status_changed` event as CONTRACT.md ("Fulfilment") fixes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loms.domain.events import iso
from shopcommon.events import envelope
from shopcommon.problems import Conflict, NotFound, UnprocessableEntity
from shopcommon.statuses import TaskStatus

EVENT_TYPE = "task.status_changed"
#: The category of a sku product-stub no longer knows (deleted from the catalogue since it was bought).
UNKNOWN_CATEGORY = "uncategorised"


OPEN = frozenset({TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS})


@dataclass(frozen=True)
class TaskItem:
    sku: int
    count: int

    def as_dict(self) -> dict[str, int]:
        return {"sku": self.sku, "count": self.count}


@dataclass(frozen=True)
class Task:
    id: int
    order_id: int
    category: str
    items: tuple[TaskItem, ...]
    worker_id: int | None
    status: TaskStatus
    assigned_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def as_wire(self) -> dict[str, Any]:
        return {
            "task_id": self.id,
            "order_id": self.order_id,
            "category": self.category,
            "items": [i.as_dict() for i in self.items],
            "worker_id": self.worker_id,
            "status": str(self.status),
            "assigned_at": iso(self.assigned_at) if self.assigned_at else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    def as_ref(self) -> dict[str, Any]:
        """What an order carries of each of its tasks."""
        return {"task_id": self.id, "category": self.category, "worker_id": self.worker_id, "status": str(self.status)}


def split_by_category(items: Iterable[tuple[int, int]], categories: Mapping[int, str]) -> dict[str, list[TaskItem]]:
    """An order's lines `(sku, count)` grouped into the tasks they make: category -> items, by sku."""
    out: dict[str, list[TaskItem]] = {}
    for sku, count in sorted(items):
        out.setdefault(categories.get(sku, UNKNOWN_CATEGORY), []).append(TaskItem(sku, count))
    return out


@dataclass(frozen=True)
class WorkerLoad:
    worker_id: int
    open_tasks: int
    last_assigned_at: datetime | None


def choose_worker(loads: Sequence[WorkerLoad]) -> WorkerLoad | None:
    """The worker with the fewest open tasks; a tie goes to the one whose last assignment is
    oldest (never assigned counts as oldest), then to the lowest id so the choice is stable."""
    if not loads:
        return None
    return min(
        loads,
        key=lambda w: (w.open_tasks, w.last_assigned_at is not None, w.last_assigned_at or datetime.min, w.worker_id),
    )


def status_changed(
    *,
    task_id: int,
    order_id: int,
    category: str,
    worker_id: int | None,
    status: TaskStatus,
    previous_status: TaskStatus | None,
    previous_worker_id: int | None,
    occurred_at: datetime,
) -> dict[str, Any]:
    return envelope(
        EVENT_TYPE,
        occurred_at,
        task_id=task_id,
        order_id=order_id,
        category=category,
        worker_id=worker_id,
        status=str(status),
        previous_status=str(previous_status) if previous_status is not None else None,
        previous_worker_id=previous_worker_id,
    )


class TaskNotFound(NotFound):
    slug = "task-not-found"

    def __init__(self, task_id: int) -> None:
        super().__init__(f"Task {task_id} not found", task_id=task_id)


class TaskTransitionRefused(Conflict):
    title, slug = "Task status does not allow this", "task-invalid-transition"

    def __init__(self, task_id: int, status: TaskStatus, action: str) -> None:
        super().__init__(
            f"Task {task_id} is {str(status)!r}; it cannot be {action}", task_id=task_id, current_status=str(status)
        )


class NotAWorker(UnprocessableEntity):
    title, slug = "Not an active worker", "not-an-active-worker"

    def __init__(self, worker_id: int) -> None:
        message = f"User {worker_id} is not an active worker"
        super().__init__(message, errors=[{"field": "worker_id", "message": message}])


def task_event(task: Task, before: Task | None) -> dict[str, Any]:
    """`task` as it is now, after `before` (None: a new task). The worker it had before is named
    too, so a task taken from a worker leaves their open page."""
    return status_changed(
        task_id=task.id,
        order_id=task.order_id,
        category=task.category,
        worker_id=task.worker_id,
        status=task.status,
        previous_status=before.status if before else None,
        previous_worker_id=before.worker_id if before else None,
        occurred_at=task.updated_at,
    )

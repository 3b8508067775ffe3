"""The workers' board, `/tasks`: a worker's own fulfilment tasks with `Start` and `Done`, live.

The tasks come from the same use case as checkout's `/api/v1/tasks` (`shopping.usecases.tasks`,
LOMS with the worker's own token: LOMS decides what a worker may see and move; a refusal is said
in words). `/live` re-sends the list block of this page's template when a task event reaches the
worker's stream, so a new assignment appears without a reload. Works without JavaScript: the
buttons are plain forms that come back to the board."""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response

from checkout.shopping.deps import Shopping, get_shopping, run_together
from checkout.shopping.usecases import tasks
from checkout.web.forms import (
    LIMITED,
    page,
    page_router,
    person,
    person_form,
    problem_words,
)
from checkout.web.pages import already_so
from checkout.web.shop import product_names
from shopcommon.auth import Principal, Role
from shopcommon.problems import ProblemError
from shopcommon.statuses import TaskStatus
from shopcommon.validation import MAX_JSON_INT

log = logging.getLogger(__name__)
router = page_router()
TaskId = Path(ge=1, le=MAX_JSON_INT)
#: The board shows all the open work (up to LOMS's page of 200 each of under way and waiting) and
#: the newest of what is done. One list of the newest 50 of any status once hid an old task still
#: to do behind fifty done ones (a task moved to a busy worker keeps its old id).
OPEN_SHOWN, DONE_SHOWN = 200, 20
#: Open work first (what is under way, then what waits), then what is done, newest first within each.
SHOWN = ((TaskStatus.IN_PROGRESS, OPEN_SHOWN), (TaskStatus.ASSIGNED, OPEN_SHOWN), (TaskStatus.DONE, DONE_SHOWN))


async def board_context(shop: Shopping, user: Principal) -> dict[str, Any]:
    """The worker's tasks as the board's `task_list` block shows them (the page and `/live` alike)."""
    listings = await run_together(*(
        tasks.list_tasks(shop, user, status=status, worker_id=None, cursor=None, limit=limit)
        for status, limit in SHOWN
    ))  # fmt: skip
    items = [task for listing in listings for task in listing.items]
    names = await product_names(shop, user, [i.sku for t in items for i in t.items])
    return {"tasks": [t.model_dump() for t in items], "names": names}


async def _board(request: Request, user: Principal, *, status: int = 200, error: str | None = None) -> Response:
    shop = get_shopping(request)
    try:
        context = await board_context(shop, user)
    except ProblemError as exc:
        return await page(request, "tasks.html.j2", exc.status, user=user, title="My tasks", tasks=[], names={},
                          error=problem_words(exc))  # fmt: skip
    return await page(request, "tasks.html.j2", status, user=user, title="My tasks", error=error, **context)


@router.get("/tasks")
async def tasks_page(request: Request) -> Response:
    user = await person(request)
    if user.role != Role.WORKER:
        return await page(request, "notice.html.j2", 403, user=user, title="My tasks",
                          detail="This page is for the workers' accounts.", back="/")  # fmt: skip
    return await _board(request, user)


async def _move(request: Request, task_id: int, action: Literal["start", "done"]) -> Response:
    user, _ = await person_form(request)
    try:
        await tasks.move_task(get_shopping(request), user, task_id, action)
    except ProblemError as exc:
        if already_so(exc, TaskStatus.IN_PROGRESS if action == "start" else TaskStatus.DONE):
            return RedirectResponse("/tasks", status_code=303)
        log.info("task %s not moved to %s from the board: %s", task_id, action, exc.detail)
        return await _board(request, user, status=exc.status, error=problem_words(exc))
    return RedirectResponse("/tasks", status_code=303)


@router.post("/tasks/{task_id}/start", openapi_extra=LIMITED)
async def start(request: Request, task_id: int = TaskId) -> Response:
    return await _move(request, task_id, "start")


@router.post("/tasks/{task_id}/done", openapi_extra=LIMITED)
async def done(request: Request, task_id: int = TaskId) -> Response:
    return await _move(request, task_id, "done")

"""The manager's desk, `/manage`: every order (filters) and the fulfilment tasks (assign),
and `/manage/workers` (create, categories, deactivate); `/manage/bookings` is `manage_bookings`,
stock and the catalogue `manage_stock` and `manage_catalogue`.

Each change goes through what the REST API calls with the manager's own token: orders and tasks
through checkout's shopping use cases (LOMS), accounts through identity's use cases. The service
decides; a refusal is said in words.
The desk follows `/live`, naming the orders and tasks it shows (`live_frames.live_url`): a payment,
a cancellation, a worker's Start/Done show without a reload, and new orders and tasks appear at the
top of the unfiltered lists."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Path, Request
from fastapi.responses import Response
from pydantic import ValidationError

from checkout.identity import rules
from checkout.identity.schemas import UserCreate, UserUpdate
from checkout.identity.usecases import accounts
from checkout.identity.web import client_ip
from checkout.shopping.deps import get_shopping, run_together
from checkout.shopping.usecases import orders, tasks
from checkout.web import people
from checkout.web.desk import back as _back
from checkout.web.desk import manager as _manager
from checkout.web.desk import manager_form as _form
from checkout.web.desk import notice as _notice
from checkout.web.forms import LIMITED, BadInput, page, page_router, parse_count, problem_words
from checkout.web.live_watch import live_url
from checkout.web.pages import TASK_STATUS_WORDS
from checkout.web.shop import order_view, task_workers
from shopcommon.problems import ProblemError
from shopcommon.statuses import OrderStatus
from shopcommon.validation import MAX_JSON_INT

log = logging.getLogger(__name__)
router = page_router()
#: The filters' choices, in the order an order lives them.
ORDER_STATUSES = [OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.COMPLETED,
                  OrderStatus.CANCELLED, OrderStatus.FAILED]  # fmt: skip


# --- orders and tasks ----------------------------------------------------------------------------
@router.get("/manage")
async def desk_page(request: Request) -> Response:
    return await desk(request)


async def desk(request: Request, status: int = 200, error: str | None = None) -> Response:
    user = await _manager(request)
    query = request.query_params
    fields = {name: query.get(name, "").strip()[:40] for name in ("status", "customer", "task_status", "worker")}
    context: dict[str, Any] = {"fields": fields, "orders": [], "tasks": [], "workers": [], "names": {},
                               "order_statuses": ORDER_STATUSES, "task_statuses": list(TASK_STATUS_WORDS.items()),
                               "next_cursor": None, "live": "/live", "live_new": ()}  # fmt: skip
    try:
        customer = parse_count(fields["customer"], "Customer", high=MAX_JSON_INT)
        worker = parse_count(fields["worker"], "Worker", high=MAX_JSON_INT)
        if fields["status"] and fields["status"] not in ORDER_STATUSES:
            raise BadInput("Status must be one of the listed statuses.")
        if fields["task_status"] and fields["task_status"] not in TASK_STATUS_WORDS:
            raise BadInput("Task status must be one of the listed statuses.")
    except BadInput as exc:
        return await page(request, "manage.html.j2", 422, user=user, title="Manage the shop", error=str(exc),
                          **context)  # fmt: skip
    shop = get_shopping(request)
    errors: list[str] = [error] if error else []
    try:
        listing = await orders.list_orders(shop, user, limit=30, cursor=query.get("cursor") or None,
                                           user_id=customer, status=fields["status"] or None)  # fmt: skip
        context["orders"] = [order_view(o) for o in listing.items]
        context["next_cursor"] = listing.next_cursor
    except ProblemError as exc:
        errors.append("Orders: " + problem_words(exc))
        status = max(status, exc.status)
    try:
        task_page = await tasks.list_tasks(shop, user, status=fields["task_status"] or None,  # type: ignore[arg-type]
                                           worker_id=worker, cursor=None, limit=50)  # fmt: skip
        context["tasks"] = [t.model_dump() for t in task_page.items]
    except ProblemError as exc:
        errors.append("Tasks: " + problem_words(exc))
        status = max(status, exc.status)
    context["workers"] = await people.workers(request, user)
    ids = [o["user_id"] for o in context["orders"]] + task_workers(context["orders"])
    ids += [t["worker_id"] for t in context["tasks"]]
    context["names"] = await people.names(request, ids)
    context["live_new"] = _takes_new(fields, query.get("cursor"))
    context["live"] = live_url(orders=[o["order_id"] for o in context["orders"]],
                               tasks=[t["task_id"] for t in context["tasks"]], new=context["live_new"])  # fmt: skip
    return await page(request, "manage.html.j2", status, user=user, title="Manage the shop",
                      error=" ".join(errors) or None, notice=_notice(request), **context)  # fmt: skip


def _takes_new(fields: dict[str, str], cursor: str | None) -> tuple[str, ...]:
    """Which of the desk's lists take new orders and tasks live at their top: the unfiltered ones
    (the orders' newest page)."""
    takes = []
    if not (fields["status"] or fields["customer"] or cursor):
        takes.append("orders")
    if not (fields["task_status"] or fields["worker"]):
        takes.append("tasks")
    return tuple(takes)


@router.post("/manage/tasks/{task_id}/assign", openapi_extra=LIMITED)
async def assign(request: Request, task_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    user, form = await _form(request)
    try:
        worker = parse_count(form.get("worker_id"), "Worker", high=MAX_JSON_INT)
        if worker is None:
            raise BadInput("Choose a worker.")
        await tasks.assign_task(get_shopping(request), user, task_id, worker_id=worker)
    except BadInput as exc:
        return await desk(request, 422, str(exc))
    except ProblemError as exc:
        return await desk(request, exc.status, problem_words(exc))
    return _back(request, "/manage", f"Task {task_id} assigned.")


# --- workers -------------------------------------------------------------------------------------
async def _categories(request: Request) -> list[str]:
    try:
        found = await get_shopping(request).catalogue.get("/api/v1/categories", [])
    except ProblemError:
        return []
    return [c["name"] for c in found]


@router.get("/manage/workers")
async def workers_get(request: Request) -> Response:
    return await workers_page(request)


async def workers_page(request: Request, status: int = 200, error: str | None = None,
                       values: dict[str, str] | None = None) -> Response:  # fmt: skip
    user = await _manager(request)
    workers, categories = await run_together(people.workers(request, user), _categories(request))
    # The workers' own categories too: shown even while the catalogue does not answer.
    categories = sorted({*categories, *(c for w in workers for c in w.get("categories") or [])})
    return await page(request, "manage_workers.html.j2", status, user=user, title="Workers", workers=workers,
                      categories=categories, error=error, notice=_notice(request), fields=values or {})  # fmt: skip


def _chosen(request_form: dict[str, str]) -> list[str]:
    return [name.removeprefix("category:") for name, on in request_form.items() if name.startswith("category:") and on]


def _validation_words(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        field = ".".join(str(p) for p in err["loc"]).replace("_", " ").capitalize()
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts) + "."


@router.post("/manage/workers", openapi_extra=LIMITED)
async def create_worker(request: Request) -> Response:
    user, form = await _form(request)
    try:
        data = UserCreate.model_validate({
            "username": form.get("username", "").strip(), "email": form.get("email", "").strip(),
            "password": form.get("password", ""), "first_name": form.get("first_name", "").strip(),
            "last_name": form.get("last_name", "").strip(), "role": "worker", "categories": _chosen(form),
        })  # fmt: skip
    except ValidationError as exc:
        values = {k: v for k, v in form.items() if k != "password"}
        return await workers_page(request, 422, _validation_words(exc), values)
    identity = request.app.state.identity
    try:
        rules.ensure_may_create(user, data)
        async with request.app.state.sessionmaker() as session, session.begin():
            account, _ = await accounts.register(session, identity, data, ip=client_ip(request), by_staff=True)
    except ProblemError as exc:
        values = {k: v for k, v in form.items() if k != "password"}
        return await workers_page(request, exc.status, problem_words(exc), values)
    log.info("worker %s created on the manager's desk", account.id)
    return _back(request, "/manage/workers", f"Worker {account.username} created.")


async def _update(request: Request, user_id: int, changes: dict[str, Any], done: str) -> Response:
    user, form = await _form(request)
    if "categories" in changes:
        changes["categories"] = _chosen(form)
    try:
        data = UserUpdate.model_validate(changes)
        async with request.app.state.sessionmaker() as session, session.begin():
            await accounts.update_user(session, request.app.state.identity, user, user_id, data, ip=client_ip(request))
    except ValidationError as exc:
        return await workers_page(request, 422, _validation_words(exc))
    except ProblemError as exc:
        return await workers_page(request, exc.status, problem_words(exc))
    return _back(request, "/manage/workers", done)


@router.post("/manage/workers/{user_id}/categories", openapi_extra=LIMITED)
async def set_categories(request: Request, user_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _update(request, user_id, {"categories": []}, f"Categories of worker {user_id} saved.")


@router.post("/manage/workers/{user_id}/deactivate", openapi_extra=LIMITED)
async def deactivate(request: Request, user_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _update(request, user_id, {"active": False}, f"Worker {user_id} deactivated.")


@router.post("/manage/workers/{user_id}/activate", openapi_extra=LIMITED)
async def activate(request: Request, user_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _update(request, user_id, {"active": True}, f"Worker {user_id} is active again.")

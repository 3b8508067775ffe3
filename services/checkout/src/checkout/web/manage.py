"""The manager's desk, `/manage`: every order (filters) and the fulfilment tasks (assign),
`/manage/workers` (create, categories, deactivate) and `/manage/bookings` (bookings: Confirm,
Reject, Cancel; tables: add, edit, close, set price).

Each change goes through what the REST API calls with the manager's own token: orders and tasks
through checkout's shopping use cases (LOMS), accounts through identity's use cases, bookings and
tables through the bookings service's staff API. The service decides; a refusal is said in words.
Orders and tasks follow `/live`, so a worker's Start/Done or a payment shows without a reload."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from checkout.identity import rules
from checkout.identity.schemas import UserCreate, UserRole, UserUpdate
from checkout.identity.usecases import accounts
from checkout.identity.web import client_ip
from checkout.shopping.deps import get_shopping, run_together
from checkout.shopping.usecases import orders, tasks
from checkout.web import people
from checkout.web.bookings_client import BookingRefused, BookingsUnavailable
from checkout.web.forms import (
    MAX_FORM_BYTES,
    BadInput,
    amount_text,
    csrf_ok,
    page,
    parse_amount,
    parse_count,
    problem_words,
    read_form,
    refused,
    signed_in,
    to_login,
)
from checkout.web.lifespan import get_web
from checkout.web.pages import KIND_WORDS, status_words, time_window
from checkout.web.shop import order_view, task_workers
from shopcommon.auth import Principal, Role
from shopcommon.body_limit import body_limit
from shopcommon.problems import ProblemError
from shopcommon.validation import MAX_JSON_INT

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
LIMITED = body_limit(MAX_FORM_BYTES)
ORDER_STATUSES = ["new", "awaiting payment", "paid", "completed", "cancelled", "failed"]
TASK_STATUSES = [("unassigned", "waiting for a worker"), ("assigned", "assigned"), ("in_progress", "in progress"),
                 ("done", "done")]  # fmt: skip
BOOKING_STATUSES = ["pending", "confirmed", "rejected", "cancelled"]
UNAVAILABLE = "We could not reach the booking system. Please try again in a minute."
NOT_MANAGER = "This page is for the managers' accounts."


async def _manager(request: Request) -> tuple[Principal | None, Response | None]:
    user = await signed_in(request)
    if user is None:
        return None, to_login(request)
    if user.role != Role.MANAGER:
        return None, await page(request, "notice.html.j2", 403, user=user, title="Manage the shop", detail=NOT_MANAGER,
                                back="/")  # fmt: skip
    return user, None


async def _form(request: Request) -> tuple[Principal | None, dict[str, str], Response | None]:
    """A manager's form: its fields, or the answer already due (no token, signed out, not a manager)."""
    form = await read_form(request)
    user = await signed_in(request)
    if not csrf_ok(request, form):
        return None, form, await refused(request, user)
    manager, answer = await _manager(request)
    return manager, form, answer


def _back(target: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{target}?done={quote(notice)}", status_code=303)


def _notice(request: Request) -> str | None:
    text = request.query_params.get("done", "")[:200]
    return text or None


# --- orders and tasks ----------------------------------------------------------------------------
async def _workers(request: Request, user: Principal) -> list[dict[str, Any]]:
    async with request.app.state.read_sessionmaker() as session:
        listing = await accounts.list_users(session, user, role=UserRole.WORKER, category=None, cursor=None, limit=200)
    return [w.model_dump() for w in listing.items]


@router.get("/manage")
async def desk_page(request: Request) -> Response:
    return await desk(request)


async def desk(request: Request, status: int = 200, error: str | None = None) -> Response:
    user, answer = await _manager(request)
    if user is None:
        assert answer is not None
        return answer
    query = request.query_params
    fields = {name: query.get(name, "").strip()[:40] for name in ("status", "customer", "task_status", "worker")}
    context: dict[str, Any] = {"fields": fields, "orders": [], "tasks": [], "workers": [], "names": {},
                               "order_statuses": ORDER_STATUSES, "task_statuses": TASK_STATUSES,
                               "next_cursor": None}  # fmt: skip
    try:
        customer = parse_count(fields["customer"], "Customer", high=MAX_JSON_INT)
        worker = parse_count(fields["worker"], "Worker", high=MAX_JSON_INT)
        if fields["status"] and fields["status"] not in ORDER_STATUSES:
            raise BadInput("Status must be one of the listed statuses.")
        if fields["task_status"] and fields["task_status"] not in dict(TASK_STATUSES):
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
    context["workers"] = await _workers(request, user)
    ids = task_workers(context["orders"]) + [t["worker_id"] for t in context["tasks"]]
    context["names"] = await people.names(request, ids)
    return await page(request, "manage.html.j2", status, user=user, title="Manage the shop",
                      error=" ".join(errors) or None, notice=_notice(request), **context)  # fmt: skip


@router.post("/manage/tasks/{task_id}/assign", openapi_extra=LIMITED)
async def assign(request: Request, task_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    user, form, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
    try:
        worker = parse_count(form.get("worker_id"), "Worker", high=MAX_JSON_INT)
        if worker is None:
            raise BadInput("Choose a worker.")
        await tasks.assign_task(get_shopping(request), user, task_id, worker_id=worker)
    except BadInput as exc:
        return await desk(request, 422, str(exc))
    except ProblemError as exc:
        return await desk(request, exc.status, problem_words(exc))
    return _back("/manage", f"Task {task_id} assigned.")


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
    user, answer = await _manager(request)
    if user is None:
        assert answer is not None
        return answer
    workers, categories = await run_together(_workers(request, user), _categories(request))
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
    user, form, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
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
    return _back("/manage/workers", f"Worker {account.username} created.")


async def _update(request: Request, user_id: int, changes: dict[str, Any], done: str) -> Response:
    user, form, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
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
    return _back("/manage/workers", done)


@router.post("/manage/workers/{user_id}/categories", openapi_extra=LIMITED)
async def set_categories(request: Request, user_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _update(request, user_id, {"categories": []}, f"Categories of worker {user_id} saved.")


@router.post("/manage/workers/{user_id}/deactivate", openapi_extra=LIMITED)
async def deactivate(request: Request, user_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _update(request, user_id, {"active": False}, f"Worker {user_id} deactivated.")


@router.post("/manage/workers/{user_id}/activate", openapi_extra=LIMITED)
async def activate(request: Request, user_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _update(request, user_id, {"active": True}, f"Worker {user_id} is active again.")


# --- bookings and tables -------------------------------------------------------------------------
@router.get("/manage/bookings")
async def bookings_get(request: Request) -> Response:
    return await bookings_page(request)


async def bookings_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    user, answer = await _manager(request)
    if user is None:
        assert answer is not None
        return answer
    web = get_web(request)
    wanted = request.query_params.get("status", "")
    context: dict[str, Any] = {"bookings": [], "tables": [], "kinds": list(KIND_WORDS), "statuses": BOOKING_STATUSES,
                               "wanted": wanted if wanted in BOOKING_STATUSES else ""}  # fmt: skip
    try:
        found, tables = await run_together(
            web.bookings.staff("GET", "/api/v1/bookings", token=user.token,
                               params={"status": context["wanted"] or None, "limit": 100}),
            web.bookings.staff("GET", "/api/v1/tables", token=user.token, params={"include_closed": "true"}),
        )  # fmt: skip
    except BookingRefused as exc:
        return await page(request, "manage_bookings.html.j2", exc.status, user=user, title="Bookings and tables",
                          error=exc.detail, **context)  # fmt: skip
    except BookingsUnavailable as exc:
        log.warning("bookings desk not shown: %s", exc)
        return await page(request, "manage_bookings.html.j2", 503, user=user, title="Bookings and tables",
                          error=UNAVAILABLE, **context)  # fmt: skip
    table_names = {t["table_id"]: t["name"] for t in tables["items"]}
    zone = web.booking_zone
    for b in found["items"]:
        window = time_window(datetime.fromisoformat(b["starts_at"]), datetime.fromisoformat(b["ends_at"]), zone)
        b.update(window=window, words=status_words(b["status"], b.get("cancelled_by")),
                 table=table_names.get(b["table_id"], f"Table {b['table_id']}"))  # fmt: skip
    for t in tables["items"]:
        t["price_text"] = amount_text(t.get("price"))
    context.update(bookings=found["items"], tables=tables["items"])
    return await page(request, "manage_bookings.html.j2", status, user=user, title="Bookings and tables",
                      error=error, notice=_notice(request), **context)  # fmt: skip


async def _staff_change(request: Request, method: str, path: str, body: dict[str, Any] | None, done: str) -> Response:
    user, _fields, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
    return await _apply(request, user, method, path, body, done)


async def _apply(request: Request, user: Principal, method: str, path: str, body: dict[str, Any] | None,
                 done: str) -> Response:  # fmt: skip
    try:
        await get_web(request).bookings.staff(method, path, token=user.token, json=body)
    except BookingRefused as exc:
        return await bookings_page(request, 409 if exc.status == 409 else 422, exc.detail)
    except BookingsUnavailable as exc:
        log.warning("bookings not changed from the desk: %s", exc)
        return await bookings_page(request, 503, UNAVAILABLE)
    return _back("/manage/bookings", done)


@router.post("/manage/bookings/{booking_id}/{action}", openapi_extra=LIMITED)
async def booking_action(request: Request, action: str, booking_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    words = {"confirm": "confirmed", "reject": "declined", "cancel": "cancelled"}
    if action not in words:
        return await bookings_page(request, 404, "There is no such action on a booking.")
    return await _staff_change(request, "POST", f"/api/v1/bookings/{booking_id}/{action}", {},
                               f"Booking {booking_id} {words[action]}.")  # fmt: skip


async def _table_fields(request: Request, *, need_all: bool) -> dict[str, Any]:
    form = await read_form(request)
    body: dict[str, Any] = {}
    name, kind = form.get("name", "").strip(), form.get("kind", "").strip()
    if name or need_all:
        body["name"] = name
    if kind or need_all:
        if kind not in KIND_WORDS:
            raise BadInput("Kind must be one of the listed kinds.")
        body["kind"] = kind
    seats = parse_count(form.get("seats"), "Seats", high=1000)
    if seats is not None or need_all:
        if seats is None:
            raise BadInput("Fill in the seats.")
        body["seats"] = seats
    if need_all:
        price = parse_amount(form.get("price"), "Price")
        if price is None:
            raise BadInput("Fill in the price.")
        body["price"] = price
    return body


@router.post("/manage/tables", openapi_extra=LIMITED)
async def add_table(request: Request) -> Response:
    user, _fields, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
    try:
        body = await _table_fields(request, need_all=True)
    except BadInput as exc:
        return await bookings_page(request, 422, str(exc))
    return await _apply(request, user, "POST", "/api/v1/tables", body, f"Table {body['name']} added.")


@router.post("/manage/tables/{table_id}", openapi_extra=LIMITED)
async def edit_table(request: Request, table_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    user, _fields, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
    try:
        body = await _table_fields(request, need_all=False)
    except BadInput as exc:
        return await bookings_page(request, 422, str(exc))
    return await _apply(request, user, "PATCH", f"/api/v1/tables/{table_id}", body, f"Table {table_id} saved.")


@router.post("/manage/tables/{table_id}/close", openapi_extra=LIMITED)
async def close_table(request: Request, table_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _staff_change(request, "PATCH", f"/api/v1/tables/{table_id}", {"bookable": False},
                               f"Table {table_id} closed for new bookings.")  # fmt: skip


@router.post("/manage/tables/{table_id}/open", openapi_extra=LIMITED)
async def open_table(request: Request, table_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    return await _staff_change(request, "PATCH", f"/api/v1/tables/{table_id}", {"bookable": True},
                               f"Table {table_id} open for bookings.")  # fmt: skip


@router.post("/manage/tables/{table_id}/price", openapi_extra=LIMITED)
async def set_price(request: Request, table_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    user, form, answer = await _form(request)
    if user is None:
        assert answer is not None
        return answer
    try:
        price = parse_amount(form.get("price"), "Price")
        if price is None:
            raise BadInput("Fill in the price.")
    except BadInput as exc:
        return await bookings_page(request, 422, str(exc))
    return await _apply(request, user, "POST", f"/api/v1/tables/{table_id}/prices", {"price": price},
                               f"Price of table {table_id} set to {amount_text(price)}.")  # fmt: skip

"""The page fragments `/live` sends: blocks of the pages' own templates rendered alone, each as one
SSE event whose name says which element of a page swaps it (htmx-ext-sse's `sse-swap`).

- `order-<id>`: the order's row (`/orders`, the desk), `order-<id>-detail`: its part of `/orders/<id>`.
  The order is read again from LOMS with the person's token, so it shows what LOMS holds, whatever
  order its events arrive in; from the event itself while LOMS does not answer.
- `tasks`: a worker's whole board (`/tasks`).
- `task-<id>`: a task's row on the desk; `booking-<id>`, `table-<id>`: a booking's, a table's card on
  `/manage/bookings` (from its event, which carries the whole of it).
- `stock-<warehouse>-<sku>`: a stock row on `/manage/stock`, read again from LOMS.
- `order-new`, `task-new`, `booking-new`, `table-new`: the row or card of something new, which the
  desk's list puts at its top (a table: at the end of the list); `orders-more`, `tasks-more`,
  `bookings-more`, `tables-more`: a line saying that more have come in than the open list takes.

A manager's page names what it shows in the address of its stream (`live_url`), since a manager's
stream carries the whole shop's events: the relay renders those and no others (`live_watch.Watch`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from checkout.shopping.deps import get_shopping
from checkout.shopping.schemas import Order
from checkout.shopping.usecases import orders
from checkout.web import backends, csrf, people, staff
from checkout.web.backends import Refused, Unavailable
from checkout.web.lifespan import get_web
from checkout.web.pages import KIND_WORDS, booking_view, render_fragment, table_view
from checkout.web.shop import order_view, product_names, task_workers
from shopcommon.auth import Principal
from shopcommon.problems import ProblemError

log = logging.getLogger(__name__)


def sse(event: str, html: str) -> bytes:
    """One event whose data is an HTML fragment (one `data:` line per line of it)."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


def _token(request: Request) -> str:
    return csrf.form_token(request, secure=get_web(request).cookie_secure)


async def board(request: Request, user: Principal) -> bytes:
    """A worker's task list, as the board's `task_list` block (a new assignment, a moved task)."""
    try:
        context = await staff.board_context(get_shopping(request), user)
    except ProblemError as exc:
        log.info("task board not refreshed: LOMS did not answer (%s)", exc.detail)
        return b""
    html = render_fragment(get_web(request).templates, "tasks.html.j2", "task_list", csrf_token=_token(request),
                           **context)  # fmt: skip
    return sse("tasks", html)


async def order(request: Request, user: Principal, event: dict[str, Any], *, desk: bool, new: bool = False) -> bytes:
    """The order's row and its detail (`new`: the row only, as `order-new`); `desk`: as a manager
    sees it (no Pay or Cancel of the customer's)."""
    order_id = int(event["order_id"])
    shop, web = get_shopping(request), get_web(request)
    try:
        found = await orders.get_order(shop, user, order_id)
    except ProblemError as exc:
        log.info("order %s shown from its event: LOMS did not answer (%s)", order_id, exc.detail)
        try:
            found = Order.model_validate({**event, "created_at": None})
        except ValidationError:
            return b""
    view, token = order_view(found), _token(request)
    # On the desk the row names its customer too (the same accounts' names).
    workers = await people.names(request, task_workers([view]) + ([view["user_id"]] if desk else []))
    row = render_fragment(web.templates, "orders.html.j2", "order_row", order=view, csrf_token=token,
                          workers=workers, staff=desk)  # fmt: skip
    if new:
        return sse("order-new", row)
    names = await product_names(shop, user, [item.sku for item in found.items])
    detail = render_fragment(web.templates, "order.html.j2", "order_detail", order=view, names=names,
                             csrf_token=token, workers=workers)  # fmt: skip
    return sse(f"order-{order_id}", row) + sse(f"order-{order_id}-detail", detail)


async def task_row(request: Request, user: Principal, event: dict[str, Any], *, new: bool = False) -> bytes:
    """A task's row on the desk, from its event (a task event carries the whole task the row shows)."""
    task = {key: event.get(key) for key in ("task_id", "order_id", "category", "worker_id", "status")}
    workers = await people.workers(request, user)
    names = await people.names(request, [task["worker_id"]])
    html = render_fragment(get_web(request).templates, "manage.html.j2", "task_row", task=task, names=names,
                           workers=workers, csrf_token=_token(request))  # fmt: skip
    return sse("task-new" if new else f"task-{task['task_id']}", html)


async def booking_card(request: Request, event: dict[str, Any], *, new: bool = False) -> bytes:
    """A booking's card on the bookings desk, from its event (which carries the whole booking)."""
    web = get_web(request)
    table = await web.bookings.table(int(event["table_id"]))  # None while bookings does not answer: the id shown
    try:
        booking = booking_view(event, {table.table_id: table.name} if table else {}, web.booking_zone)
    except (KeyError, TypeError, ValueError):
        return b""
    html = render_fragment(web.templates, "manage_bookings.html.j2", "booking_card", b=booking,
                           csrf_token=_token(request))  # fmt: skip
    return sse("booking-new" if new else f"booking-{booking['booking_id']}", html)


async def table_card(request: Request, event: dict[str, Any], *, new: bool = False) -> bytes:
    """A table's card on the bookings desk, from its event (which carries the whole table)."""
    table = table_view({key: event.get(key) for key in ("table_id", "name", "kind", "seats", "bookable", "price")})
    html = render_fragment(get_web(request).templates, "manage_bookings.html.j2", "table_card", t=table,
                           kinds=list(KIND_WORDS), csrf_token=_token(request))  # fmt: skip
    return sse("table-new" if new else f"table-{table['table_id']}", html)


#: Where the newest of each kind are listed, for a list that has taken all the new rows it takes live.
NEWEST = {"orders": "/manage", "tasks": "/manage", "bookings": "/manage/bookings", "tables": "/manage/bookings"}


def more(request: Request, kind: str, *, staff: bool = True) -> bytes:
    """The line that replaces the list's hidden `<kind>-more` placeholder: there are more new ones
    (`staff`: on a manager's desk; else on the customer's own orders)."""
    href = NEWEST[kind] if staff else "/orders"
    html = get_web(request).templates.get_template("_more.html.j2").render(kind=kind, href=href)
    return sse(f"{kind}-more", html)


async def stock_rows(request: Request, user: Principal, warehouse: int, skus: set[int]) -> bytes:
    """The rows of `skus` in the warehouse, as LOMS holds them now: whatever order the events that
    changed them arrive in, each row shows its latest total and reservations."""
    try:
        listing = await backends.loms(request).call(
            "GET", f"/api/v1/warehouses/{warehouse}/stocks", token=user.token,
            params=[("limit", len(skus)), *(("sku", sku) for sku in sorted(skus))],
        )  # fmt: skip
    except (Refused, Unavailable) as exc:
        log.info("stock of warehouse %s not refreshed: %s", warehouse, exc)
        return b""
    rows = [row for row in listing.get("items", []) if row.get("sku") in skus]
    if not rows:
        return b""
    web, token = get_web(request), _token(request)
    names = await product_names(get_shopping(request), user, [row["sku"] for row in rows])
    frames = b""
    for row in rows:
        html = render_fragment(web.templates, "manage_stock.html.j2", "stock_row", row=row, chosen={"id": warehouse},
                               names=names, csrf_token=token)  # fmt: skip
        frames += sse(f"stock-{warehouse}-{row['sku']}", html)
    return frames

"""The manager's bookings desk, `/manage/bookings`: bookings (Confirm, Reject, Cancel) and tables
(add, edit, close, open, set price), through the bookings service's staff API with the manager's own
token. The service decides; a refusal is said in words. The page follows `/live`: booking cards and
table cards change as guests and other managers change them, new requests and tables appear; a
value being typed into a table's card is kept (`live.js`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import Path, Request
from fastapi.responses import Response

from checkout.shopping.deps import run_together
from checkout.web.bookings_client import BookingRefused, BookingsUnavailable
from checkout.web.desk import back as _back
from checkout.web.desk import manager as _manager
from checkout.web.desk import manager_form as _form
from checkout.web.desk import notice as _notice
from checkout.web.forms import LIMITED, BadInput, page, page_router, parse_amount, parse_count, read_form
from checkout.web.lifespan import get_web
from checkout.web.live_watch import live_url
from checkout.web.pages import KIND_WORDS, amount_text, booking_view, table_view
from shopcommon.auth import Principal
from shopcommon.statuses import BookingStatus
from shopcommon.validation import MAX_JSON_INT

log = logging.getLogger(__name__)
router = page_router()
BOOKING_STATUSES = [status.value for status in BookingStatus]
UNAVAILABLE = "We could not reach the booking system. Please try again in a minute."
#: Bookings a page shows, in start order; `Later bookings` follows the service's cursor.
PAGE_SIZE = 100
#: `when`: the bookings not yet over (the desk's work: today's guests and the requests to answer),
#: or every booking with the status, the finished ones too (history).
WHEN = {"upcoming": "Now and upcoming", "all": "Past ones too"}


# --- bookings and tables -------------------------------------------------------------------------
@router.get("/manage/bookings")
async def bookings_get(request: Request) -> Response:
    return await bookings_page(request)


async def bookings_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    user = await _manager(request)
    web = get_web(request)
    query = request.query_params
    wanted, when, cursor = query.get("status", ""), query.get("when", ""), query.get("cursor") or None
    context: dict[str, Any] = {"bookings": [], "tables": [], "kinds": list(KIND_WORDS), "statuses": BOOKING_STATUSES,
                               "wanted": wanted if wanted in BOOKING_STATUSES else "", "whens": WHEN,
                               "when": when if when in WHEN else "upcoming", "next_cursor": None, "live": "/live",
                               "live_new": ()}  # fmt: skip
    # Without a lower bound the oldest bookings came first and, once a hundred had been confirmed,
    # new requests were never on the page: by default it starts with the bookings not yet over.
    since = datetime.now(UTC).isoformat() if context["when"] == "upcoming" else None
    try:
        found, tables = await run_together(
            web.bookings.staff("GET", "/api/v1/bookings", token=user.token,
                               params={"status": context["wanted"] or None, "from": since, "cursor": cursor,
                                       "limit": PAGE_SIZE}),
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
    context.update(bookings=[booking_view(b, table_names, web.booking_zone) for b in found["items"]],
                   tables=[table_view(t) for t in tables["items"]], next_cursor=found.get("next_cursor"))  # fmt: skip
    # New requests appear live where the list takes them: the first page of the open ones, or of the
    # pending ones. Every table is listed: a new one is added live at the end.
    takes_new = cursor is None and context["wanted"] in ("", BookingStatus.PENDING)
    context["live_new"] = ("bookings", "tables") if takes_new else ("tables",)
    context["live"] = live_url(bookings=[b["booking_id"] for b in found["items"]],
                               tables=[t["table_id"] for t in tables["items"]], new=context["live_new"])  # fmt: skip
    return await page(request, "manage_bookings.html.j2", status, user=user, title="Bookings and tables",
                      error=error, notice=_notice(request), **context)  # fmt: skip


async def _staff_change(request: Request, method: str, path: str, body: dict[str, Any] | None, done: str) -> Response:
    user, _ = await _form(request)
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
    return _back(request, "/manage/bookings", done)


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
    user, _ = await _form(request)
    try:
        body = await _table_fields(request, need_all=True)
    except BadInput as exc:
        return await bookings_page(request, 422, str(exc))
    return await _apply(request, user, "POST", "/api/v1/tables", body, f"Table {body['name']} added.")


@router.post("/manage/tables/{table_id}", openapi_extra=LIMITED)
async def edit_table(request: Request, table_id: int = Path(ge=1, le=MAX_JSON_INT)) -> Response:
    user, _ = await _form(request)
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
    user, form = await _form(request)
    try:
        price = parse_amount(form.get("price"), "Price")
        if price is None:
            raise BadInput("Fill in the price.")
    except BadInput as exc:
        return await bookings_page(request, 422, str(exc))
    return await _apply(request, user, "POST", f"/api/v1/tables/{table_id}/prices", {"price": price},
                               f"Price of table {table_id} set to {amount_text(price)}.")  # fmt: skip

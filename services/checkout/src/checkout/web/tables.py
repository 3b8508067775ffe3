"""`/tables` (public): a guest searches the restaurant's tables and requests a booking, through the
bookings service's public API (the same calls its REST clients make). Works without JavaScript."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from fastapi import Path, Request
from fastapi.responses import Response

from checkout.identity.web import client_ip
from checkout.web import csrf
from checkout.web.bookings_client import BookingRefused, BookingsUnavailable
from checkout.web.forms import (
    LIMITED,
    BadInput,
    checked_form,
    page,
    page_router,
    parse_amount,
    parse_count,
    signed_in,
)
from checkout.web.lifespan import get_web
from checkout.web.pages import KIND_WORDS, amount_text, status_words, table_words
from shopcommon.auth import Principal, Role
from shopcommon.time_text import time_window
from shopcommon.validation import MAX_JSON_INT

log = logging.getLogger(__name__)
router = page_router()
KINDS = [("", "Any")] + [(kind, words.capitalize()) for kind, words in KIND_WORDS.items()]
UNAVAILABLE = "We could not reach the booking system. Please try again in a minute."
TableId = Path(ge=1, le=MAX_JSON_INT)
#: A search with a From and no To looks for a table this long.
SITTING = timedelta(hours=2)
#: The booking form's `key` as first shown (see `_request_key`).
FIRST_ATTEMPT = "1"


def _zone(request: Request) -> tzinfo:
    return get_web(request).booking_zone or UTC


def _moment(text: str | None, label: str, zone: tzinfo) -> datetime | None:
    """A `datetime-local` field (`2031-03-14T19:00`) as a moment in the restaurant's zone."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"{label} must be a date and time, like 2031-03-14 19:00.") from exc
    wall_clock = moment.tzinfo is None
    moment = moment.replace(tzinfo=zone) if wall_clock else moment
    try:  # the form shows it again in the restaurant's zone; bookings reads it in UTC
        back = moment.astimezone(UTC).astimezone(zone)
    except OverflowError as exc:  # year 1 or 9999 written with an offset
        raise BadInput(f"{label} is out of range.") from exc
    if wall_clock and back.replace(tzinfo=None) != moment.replace(tzinfo=None):
        # Skipped when the clocks go forward (02:30 that night): taken as is, it was an hour off.
        raise BadInput(f"{label}: the clocks go forward then, so there is no {moment:%H:%M} that day.")
    return moment


def _local(moment: datetime | None, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _search_from(values: dict[str, str], zone: tzinfo) -> tuple[dict[str, Any], dict[str, str]]:
    """The bookings search's parameters and the fields as the form shows them again."""
    kind = values.get("kind", "").strip()
    if kind and kind not in KIND_WORDS:
        raise BadInput("Kind must be one of the listed kinds.")
    starts, ends = _moment(values.get("from"), "From", zone), _moment(values.get("to"), "To", zone)
    if starts and starts <= datetime.now(UTC):  # every table would be listed, none bookable
        raise BadInput("From is in the past: choose a time to come.")
    if starts and not ends:
        # A guest who says when they come means a sitting, not "from then on" (which any later
        # booking of a table would rule out): the form shows the To it searched.
        try:
            ends = starts + SITTING
            ends.astimezone(zone)  # shown again in the form
        except OverflowError as exc:
            raise BadInput("From is out of range.") from exc
    if starts and ends and ends <= starts:
        raise BadInput("To must be after From.")
    seats = parse_count(values.get("seats"), "Seats", high=1000)
    min_price = parse_amount(values.get("min_price"), "Min price")
    max_price = parse_amount(values.get("max_price"), "Max price")
    params: dict[str, Any] = {
        "kind": kind or None,
        "seats": seats,
        "min_price": min_price,
        "max_price": max_price,
        "starts_at": starts.isoformat() if starts else None,
        "ends_at": ends.isoformat() if ends else None,
    }
    shown = {
        "kind": kind,
        "seats": str(seats or ""),
        "from": _local(starts, zone),
        "to": _local(ends, zone),
        "min_price": amount_text(min_price),
        "max_price": amount_text(max_price),
    }
    return params, shown


@router.get("/tables")
async def tables_page(request: Request) -> Response:
    user = await signed_in(request)
    query = dict(request.query_params)
    zone = _zone(request)
    context: dict[str, Any] = {"kinds": KINDS, "results": None, "fields": {}, "zone": str(zone)}
    try:
        params, context["fields"] = _search_from(query, zone)
    except BadInput as exc:
        return await page(request, "tables.html.j2", 422, user=user, title="Book a table", error=str(exc),
                          **{**context, "fields": query})  # fmt: skip
    if query.get("search") is None and not any(params.values()):
        return await page(request, "tables.html.j2", user=user, title="Book a table", **context)
    try:
        offers = await get_web(request).bookings.search(params)
    except BookingRefused as exc:
        return await page(request, "tables.html.j2", 422, user=user, title="Book a table", error=exc.detail, **context)
    except BookingsUnavailable as exc:
        log.warning("table search not shown: %s", exc)
        return await page(request, "tables.html.j2", 503, user=user, title="Book a table", error=UNAVAILABLE, **context)
    context["results"] = [
        {**offer.model_dump(), "words": table_words(offer.table_id, offer.name, offer.kind, offer.seats)}
        for offer in offers
        if offer.bookable and offer.price is not None
    ]
    return await page(request, "tables.html.j2", user=user, title="Book a table", **context)


async def _book_page(request: Request, table_id: int, values: dict[str, str], status: int = 200,
                     error: str | None = None) -> Response:  # fmt: skip
    web = get_web(request)
    table = await web.bookings.table(table_id)
    if table is None:
        return await page(request, "notice.html.j2", 404, user=await signed_in(request), title="Book a table",
                          detail="We could not find that table. Search again.", back="/tables")  # fmt: skip
    return await page(
        request, "table_book.html.j2", status, user=await signed_in(request), title=f"Book {table.name}",
        error=error, table=table_words(table.table_id, table.name, table.kind, table.seats), table_id=table_id,
        fields=values, key=values.get("key") or FIRST_ATTEMPT,
    )  # fmt: skip


def _request_key(form: dict[str, str], body: dict[str, Any], user: Principal | None) -> str:
    """One request per browser, person, booking asked for and attempt: a digest of the browser's
    form token (checked equal to its cookie), who is signed in, what the form asks and its `key`
    (`FIRST_ATTEMPT` on a form as first shown, new on one shown again after a refusal). So the same
    request sent twice, by a double click, a reload or Back and the button again, books once and
    gets the first answer, while a changed one is a new request. The digest fits a header whatever
    was typed."""
    person = str(user.user_id) if user else ""
    material = [form.get(csrf.FIELD, ""), person, form.get("key", ""), *(str(body[k] or "") for k in sorted(body))]
    return "web-" + hashlib.sha256("\x1f".join(material).encode()).hexdigest()[:40]


@router.get("/tables/{table_id}/book")
async def book_form(request: Request, table_id: int = TableId) -> Response:
    return await _book_page(request, table_id, dict(request.query_params))


@router.post("/tables/{table_id}/book", openapi_extra=LIMITED)
async def book(request: Request, table_id: int = TableId) -> Response:
    form = await checked_form(request)
    zone = _zone(request)
    name, email, phone = (form.get(f, "").strip() for f in ("name", "email", "phone"))
    try:
        starts, ends = _moment(form.get("from"), "From", zone), _moment(form.get("to"), "To", zone)
        if starts is None or ends is None:
            raise BadInput("Say when: fill in From and To.")
        if not name:
            raise BadInput("Fill in your name.")
        if not email and not phone:
            raise BadInput("Give an email address or a phone number, so the restaurant can reach you.")
    except BadInput as exc:
        return await _book_page(request, table_id, form, 422, str(exc))
    body = {"table_id": table_id, "starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "name": name,
            "email": email or None, "phone": phone or None}  # fmt: skip
    web = get_web(request)
    user = await signed_in(request)
    try:
        booking = await web.bookings.request_booking(
            body, idempotency_key=_request_key(form, body, user), guest_address=client_ip(request),
            customer_token=user.token if user and user.role == Role.CUSTOMER else None,
        )  # fmt: skip
    except BookingRefused as exc:
        # That request is answered; the form shown again is a new attempt: sent again, corrected or
        # not, it is a new request, not that refusal replayed.
        fresh = {**form, "key": secrets.token_urlsafe(16)}
        return await _book_page(request, table_id, fresh, 409 if exc.status == 409 else 422, exc.detail)
    except BookingsUnavailable as exc:
        log.warning("booking not requested: %s", exc)
        return await _book_page(request, table_id, form, 503, UNAVAILABLE)
    table = await web.bookings.table(booking.table_id)
    return await page(
        request, "table_booked.html.j2", 201, user=user, title="Your booking request",
        booking=booking, window=time_window(booking.starts_at, booking.ends_at, web.booking_zone),
        table=table_words(booking.table_id, *((table.name, table.kind, table.seats) if table else ())),
        status_text=status_words(booking.status, booking.cancelled_by), email=email,
    )  # fmt: skip

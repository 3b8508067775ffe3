"""The guest's booking cancel page, `/bookings/cancel/{token}` (CONTRACT.md "Bookings", "Web pages").

The link in the acknowledging e-mail opens it: GET shows the booking and a Cancel button and
changes nothing (mail scanners and link previews open links); only the form's POST cancels, once.
Every outcome is a page in words with a fitting status: never JSON, never a 500.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse

from checkout.web import csrf
from checkout.web.bookings_client import (
    BookingsUnavailable,
    BookingView,
    CancelLinkGone,
    CancelRefused,
)
from checkout.web.forms import page_router
from checkout.web.lifespan import Web, get_web
from checkout.web.pages import render, status_words, table_words
from shopcommon.body_limit import body_limit
from shopcommon.time_text import time_window

log = logging.getLogger(__name__)
#: HTML pages, not operations of the REST API: they stay out of the OpenAPI document.
router = page_router()

PATH = "/bookings/cancel/{token:path}"  # any rest of the path is a (bad) token: its page, not a JSON 404
FORM = "application/x-www-form-urlencoded"
#: The form holds one hidden field.
MAX_FORM_BYTES = 4096
#: What the bookings service issues is 43 URL-safe characters; anything else is not a link of ours
#: and is answered without asking it.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")

GONE = (
    "This link has already been used, or it is not valid",
    "A cancel link works once. If you have already cancelled the booking with it, nothing more is "
    "needed. If you did not, check that you opened the whole link from the e-mail, or contact the restaurant.",
)
STARTED = (
    "Your booking has already started",
    "It can no longer be cancelled here. Please contact the restaurant.",
)
NOT_CANCELLABLE = (
    "This booking can no longer be cancelled",
    "It was declined or cancelled by the restaurant. Nothing was changed.",
)
FORBIDDEN = (
    "We could not verify this request",
    "The form had expired or did not come from this page, so nothing was changed. Open the link from "
    "the e-mail again and press Cancel there.",
)
UNAVAILABLE_SHOW = (
    "Bookings are unavailable right now",
    "We could not reach the booking system. Nothing was changed. Please try again in a minute.",
)
UNAVAILABLE_CANCEL = (
    "Bookings are unavailable right now",
    "We could not reach the booking system, so we cannot tell whether the booking was cancelled. "
    "Please try again in a minute: if the link then says it has been used, the booking is cancelled.",
)
RETRY_AFTER = {"Retry-After": "30"}


def _message(web: Web, status: int, words: tuple[str, str], headers: dict[str, str] | None = None) -> HTMLResponse:
    heading, detail = words
    response = render(web.templates, "message.html.j2", status, title=heading, heading=heading, detail=detail)
    response.headers.update(headers or {})
    return response


async def _booking_page(
    web: Web, booking: BookingView, status: int = 200, *, heading: str, note: str | None, csrf_token: str | None = None
) -> HTMLResponse:
    """The booking in words; with `csrf_token`, the Cancel form too."""
    table = await web.bookings.table(booking.table_id)
    return render(
        web.templates,
        "booking_cancel.html.j2",
        status,
        title=heading,
        heading=heading,
        note=note,
        booking=booking,
        table=table_words(booking.table_id, *((table.name, table.kind, table.seats) if table else ())),
        window=time_window(booking.starts_at, booking.ends_at, web.booking_zone),
        status_text=status_words(booking.status, booking.cancelled_by),
        csrf_token=csrf_token,
    )


@router.get(PATH, response_class=HTMLResponse)
async def booking_cancel_page(token: str, request: Request) -> HTMLResponse:
    """The booking and, while it can be cancelled, the Cancel form. Changes nothing."""
    web = get_web(request)
    if not _TOKEN.fullmatch(token):
        return _message(web, 404, GONE)
    try:
        view = await web.bookings.cancel_link(token)
    except CancelLinkGone:
        return _message(web, 404, GONE)
    except BookingsUnavailable as exc:
        log.warning("cancel page not shown: %s", exc)
        return _message(web, 503, UNAVAILABLE_SHOW, RETRY_AFTER)
    if not view.cancellable:
        return await _booking_page(web, view.booking, heading="Your table booking", note=view.reason)
    form_token = csrf.form_token(request, secure=web.cookie_secure)
    response = await _booking_page(web, view.booking, heading="Your table booking", note=None, csrf_token=form_token)
    csrf.set_cookie(response, form_token, secure=web.cookie_secure)
    return response


@router.post(PATH, response_class=HTMLResponse, openapi_extra=body_limit(MAX_FORM_BYTES))
async def booking_cancel(token: str, request: Request) -> HTMLResponse:
    """The Cancel button: cancels once (the token is spent), then says what happened."""
    web = get_web(request)
    if not csrf.is_valid(request, await _form_field(request, csrf.FIELD), secure=web.cookie_secure):
        return _message(web, 403, FORBIDDEN)
    if not _TOKEN.fullmatch(token):
        return _message(web, 404, GONE)
    try:
        booking = await web.bookings.cancel(token)
    except CancelLinkGone:
        return _message(web, 404, GONE)
    except CancelRefused as refusal:
        return await _refused(web, token, refusal)
    except BookingsUnavailable as exc:
        log.warning("booking not cancelled through its link: %s", exc)
        return _message(web, 503, UNAVAILABLE_CANCEL, RETRY_AFTER)
    log.info("booking %s cancelled by its guest through the link", booking.booking_id)
    return await _booking_page(
        web,
        booking,
        heading="Your booking is cancelled",
        note="The table is free for other guests again. We will send you an e-mail confirming it.",
    )


async def _refused(web: Web, token: str, refusal: CancelRefused) -> HTMLResponse:
    """A 409: the words for why, with the booking as it stands when it can still be shown."""
    words = STARTED if refusal.slug == "booking-started" else NOT_CANCELLABLE
    try:
        view = await web.bookings.cancel_link(token)
    except (CancelLinkGone, BookingsUnavailable):
        return _message(web, 409, words)
    return await _booking_page(web, view.booking, 409, heading=words[0], note=words[1])


async def _form_field(request: Request, name: str) -> str | None:
    """One field of an urlencoded form body; None for any other body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        return None
    raw = await request.body()  # at most MAX_FORM_BYTES: the body-limit middleware refuses more
    try:
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=8)
    except ValueError:
        return None
    values = fields.get(name, [])
    return values[0] if len(values) == 1 else None


# The shop's pages (imported here, after `router` exists: main.py mounts this one router).
from checkout.web import (  # noqa: E402
    live,
    manage,
    manage_bookings,
    manage_catalogue,
    manage_stock,
    notifications_page,
    session,
    shop,
    staff,
    static,
    tables,
)

for _pages in (static.router, session.router, shop.router, live.router, staff.router, manage.router,
               manage_bookings.router, manage_stock.router, manage_catalogue.router, notifications_page.router,
               tables.router):  # fmt: skip
    router.include_router(_pages)

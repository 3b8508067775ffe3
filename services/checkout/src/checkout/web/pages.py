"""Rendering the pages: the Jinja2 templates beside this module, the words for booking values,
and the headers every page carries."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2_fragments import render_block

from checkout.web.static import asset_url
from shopcommon.problems import ProblemError
from shopcommon.statuses import BookingStatus, CancelledBy, CancelReason, TaskStatus
from shopcommon.time_text import time_window

TEMPLATES = Path(__file__).parent / "templates"


#: The cart form carries a key of its own: pressing Check out twice (or resending the form) places
#: one order, the second press waiting this long (seconds) for the first one's order.
SECOND_PRESS_WAIT = 20.0


def assign_choices(workers: list[dict[str, Any]], category: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """The desk's Assign menu for a task of `category`: its active workers, then every other active
    worker, so a task whose category no one works in (renamed since, or a deleted product's
    `uncategorised`) can still be given to someone; the API assigns to any active worker."""
    active = [w for w in workers if w.get("active") is not False]
    ours = [w for w in active if category in (w.get("categories") or [])]
    others = [w for w in active if category not in (w.get("categories") or [])]
    return [(label, group) for label, group in ((category, ours), ("other categories", others)) if group]


def environment(refresh_seconds: float = 0) -> Environment:
    """The pages' templates; `refresh_seconds` is how often a page over data that sends no events
    asks for it again (0: never; see `web/refresh.py`)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["amount"] = format_amount
    env.filters["moment"] = format_moment
    env.globals["asset"] = asset_url
    env.globals["status_label"] = order_status_words
    env.globals["task_status"] = task_status_words
    env.globals["refresh_seconds"] = refresh_seconds
    env.globals["assign_choices"] = assign_choices
    return env


def security_headers(nonce: str) -> dict[str, str]:
    """The page's own inline style (by its nonce) and nothing else; no framing (a Cancel button under
    someone else's page), no referrer (the address holds the link's token), never cached."""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex, nofollow",
    }


def render(env: Environment, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = env.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(html, status_code=status_code, headers=security_headers(nonce))


# --- booking values in words -------------------------------------------------------------------
STATUS_WORDS: dict[str, str] = {
    BookingStatus.PENDING: "Requested: waiting for the restaurant to confirm it",
    BookingStatus.CONFIRMED: "Confirmed",
    BookingStatus.REJECTED: "Declined by the restaurant",
    BookingStatus.CANCELLED: "Cancelled",
}
CANCELLED_BY_WORDS: dict[str, str] = {
    CancelledBy.CUSTOMER: "Cancelled by you",
    CancelledBy.STAFF: "Cancelled by the restaurant",
}
#: The same, as the restaurant's staff read it on their desk.
DESK_CANCELLED_BY_WORDS: dict[str, str] = {
    CancelledBy.CUSTOMER: "Cancelled by the guest",
    CancelledBy.STAFF: "Cancelled by the restaurant",
}
KIND_WORDS = {"regular": "table", "cabin": "cabin", "room": "private room"}


def status_words(status: str, cancelled_by: str | None = None) -> str:
    if status == BookingStatus.CANCELLED and cancelled_by in CANCELLED_BY_WORDS:
        return CANCELLED_BY_WORDS[cancelled_by]
    return STATUS_WORDS.get(status, status)


def booking_view(booking: dict[str, Any], table_names: dict[int, str], zone: tzinfo | None) -> dict[str, Any]:
    """A booking as its card shows it: the service's fields (or its event's), its time and status in
    words, its table's name."""
    window = time_window(datetime.fromisoformat(booking["starts_at"]), datetime.fromisoformat(booking["ends_at"]), zone)
    table = table_names.get(booking["table_id"], f"Table {booking['table_id']}")
    cancelled_by = booking.get("cancelled_by")
    words = DESK_CANCELLED_BY_WORDS.get(cancelled_by or "") if booking["status"] == BookingStatus.CANCELLED else None
    return {"email": None, "phone": None, "cancelled_by": None, **booking, "window": window, "table": table,
            "words": words or status_words(booking["status"], cancelled_by)}  # fmt: skip


def amount_text(minor: int | None) -> str:
    """The form's spelling of an amount (`12.50`), for putting a value back into its field."""
    return "" if minor is None else f"{minor // 100}.{minor % 100:02d}"


def table_view(table: dict[str, Any]) -> dict[str, Any]:
    """A table as the desk's card shows it: the service's fields (or its event's), the price as
    its field spells it."""
    return {**table, "price_text": amount_text(table.get("price"))}


def table_words(table_id: int, name: str | None = None, kind: str | None = None, seats: int | None = None) -> str:
    """`Garden 3 (cabin, 4 seats)`; `Table 17` when only the id is known."""
    if name is None:
        return f"Table {table_id}"
    details = [KIND_WORDS.get(kind or "", kind or "")] if kind else []
    if seats is not None:
        details.append(f"{seats} seat" if seats == 1 else f"{seats} seats")
    return f"{name} ({', '.join(d for d in details if d)})" if details else name


def format_amount(minor_units: int) -> str:
    """Prices are integers in the smallest currency unit: 150000 is `1,500.00`."""
    sign = "-" if minor_units < 0 else ""
    whole, cents = divmod(abs(minor_units), 100)
    return f"{sign}{whole:,}.{cents:02d}"


# --- the shop's pages ---------------------------------------------------------------------------
#: Scripts and styles only from checkout's own files (no inline code: htmx is told not to add its
#: indicator style nor to evaluate attributes), live updates only from checkout's own stream.
SITE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def site_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": SITE_CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def render_page(env: Environment, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A whole page of the shop (the template extends `layout.html.j2`)."""
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=site_headers())


def render_fragment(env: Environment, template: str, block: str, **context: Any) -> str:
    """One block of a page's template rendered alone (an HTMX swap): the same markup as the page's."""
    return render_block(env, template, block, **context)


def order_status_words(status: str) -> str:
    """An order's status as a person reads it: LOMS's wire spelling already is words (`awaiting
    payment`), and a status it adds later shows as sent. The `data-status` attribute keeps it too."""
    return status


#: A fulfilment task's wire statuses as a person reads them.
TASK_STATUS_WORDS: dict[str, str] = {
    TaskStatus.UNASSIGNED: "waiting for a worker",
    TaskStatus.ASSIGNED: "assigned",
    TaskStatus.IN_PROGRESS: "in progress",
    TaskStatus.DONE: "done",
}


def task_status_words(status: str) -> str:
    return TASK_STATUS_WORDS.get(status, status)


def format_moment(moment: datetime | str | None) -> str:
    """`14 Mar 2031, 19:05 UTC`; empty for none."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    else:
        parsed = moment
    return parsed.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


#: Why an order was cancelled, as its row says it.
CANCEL_WORDS: dict[str, str] = {
    CancelReason.TIMEOUT: "not paid in time",
    CancelReason.CUSTOMER: "cancelled by the customer",
    CancelReason.STAFF: "cancelled by the shop",
}


def shortage_words(skus: list[int], available: dict[str, int], names: dict[int, str]) -> str:
    """A checkout the stock could not cover: what was short, by name and with what is left."""
    short = [f"{names.get(sku, f'sku {sku}')} (only {available.get(str(sku), 0)} left)" for sku in skus]
    return (f"Not enough stock for {', '.join(short)}. Nothing was charged: remove the line and add what is "
            "left, or try again later.")  # fmt: skip


def not_added_words(slug: str | None, extra: dict[str, Any]) -> str | None:
    """Units that would not fit the stock, as a shopper reads it (the API's detail names skus and
    counts); None for any other refusal."""
    if slug != "out-of-stock" or not isinstance(extra.get("available"), int):
        return None
    available, in_cart = extra["available"], extra.get("in_cart") or 0
    if in_cart >= available:
        return f"Your cart already holds all {available} we have of it." if available else "It is out of stock."
    if in_cart:
        return f"We have {available} of it and your cart holds {in_cart}: add {available - in_cart} or fewer."
    return f"We have only {available} of it: choose {available} or fewer."


def already_so(exc: ProblemError, status: str) -> bool:
    """Whether a refused move failed only because the order or task already has the status it was
    to get: a double click's second press, or the same button in another tab. The page then shows
    the move done, not an error."""
    return exc.slug in {"invalid-transition", "task-invalid-transition"} and exc.extra.get("current_status") == status

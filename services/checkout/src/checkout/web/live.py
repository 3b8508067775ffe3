"""`/live`: the signed-in person's notifications stream, relayed same-origin as page fragments.

The page cannot send the HttpOnly cookie's token to the notifications service itself, so checkout
opens the stream there with it (`/api/v1/events/stream`, Bearer) and turns each event into the
fragments the person's open page swaps (htmx-ext-sse; `live_frames` says which): a customer's
order, whatever of it moved; a worker's board; for a manager, only what their page says it shows
(`Watch`), since a manager's stream carries the whole shop's events. Heartbeats are passed on; when
the notifications stream ends (its token expired) so does this one, and the browser reconnects.
When this process stops (SIGTERM), the stream ends at once with a `retry:` hint, as notifications'
own does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from sse_starlette import EventSourceResponse
from starlette.datastructures import QueryParams

from checkout.web import live_frames
from checkout.web.forms import page_router, signed_in
from checkout.web.lifespan import get_web
from shopcommon.auth import Principal, Role
from shopcommon.statuses import OrderStatus
from shopcommon.validation import MAX_JSON_INT

log = logging.getLogger(__name__)
router = page_router()
STREAM = "/api/v1/events/stream"
ORDER_EVENT = "order.status_changed"
TASK_EVENT = "task.status_changed"
BOOKING_EVENT = "booking.status_changed"
STOCK_EVENT = "stock.changed"
TABLE_EVENT = "table.changed"
#: The events a page may show, by the name the notifications stream gives them.
SHOWN = (ORDER_EVENT, TASK_EVENT, BOOKING_EVENT, STOCK_EVENT, TABLE_EVENT)
#: Of those, the ones only a manager's page shows.
DESK_ONLY = (BOOKING_EVENT, STOCK_EVENT, TABLE_EVENT)
#: The order statuses whose coming moves a warehouse's stock: units reserved, taken, released.
STOCK_MOVES = frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.CANCELLED})
#: The most ids of one kind a page may name (`Watch`): a page's list is shorter.
WATCH_MAX = 200
#: The most new rows one open page's list takes live; then it says there are more (`Watch.admit`).
NEW_ROWS_MAX = 50
#: How long a stream may take to say goodbye once the server stops (under uvicorn's 5 s).
STOPPING_GRACE_SECONDS = 2.0
#: Sent before a stream ends because this process is stopping: reconnect at once (to another replica).
STOPPING_FRAME = b"retry: 500\n: server stopping; reconnect\n\n"
T = TypeVar("T")


async def events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str, str]]:
    """SSE events as (event, data, comment); a heartbeat comment is ("", "", text)."""
    name, data = "", list[str]()
    async for line in lines:
        if line == "":
            if data:
                yield name or "message", "\n".join(data), ""
            name, data = "", list[str]()
        elif line.startswith(":"):
            yield "", "", line[1:].strip()
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def _event(name: str, data: str) -> dict[str, Any] | None:
    """The event's JSON, when it names the order, booking, table or stock row it is of; None for anything else."""
    try:
        event = json.loads(data)
        if name == STOCK_EVENT:
            return event if isinstance(event["warehouse_id"], int) and isinstance(event["sku"], int) else None
        if name == TABLE_EVENT:
            return event if isinstance(event["table_id"], int) else None
        int(event["booking_id"] if name == BOOKING_EVENT else event["order_id"])
        int(event.get("task_id") or 0)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return event if isinstance(event, dict) else None


def _ids(text: str | None) -> set[int]:
    """`1,2,3` as ids (the first WATCH_MAX; anything not an id is left out)."""
    words = [w.strip() for w in (text or "").split(",")[:WATCH_MAX]]
    return {int(w) for w in words if w.isascii() and w.isdecimal() and len(w) <= 16 and 0 < int(w) <= MAX_JSON_INT}


@dataclass
class Watch:
    """What a manager's page shows, so their relay renders that and nothing else: a manager's
    stream carries the whole shop's events. `/live?orders=1,2&tasks=3&bookings=4&new=orders,tasks`:
    the ids on the page, and the lists that take new ones (the desk's first page unfiltered, the
    bookings awaiting an answer, the tables). What a new thing's later events change is then
    followed too, by this connection: one that reconnects starts again from the page's address, so a
    row that came in live is followed again once the page is reloaded. `stock=2&skus=5,6`: the stock
    page's warehouse and the skus of its rows."""

    orders: set[int] = field(default_factory=set)
    tasks: set[int] = field(default_factory=set)
    bookings: set[int] = field(default_factory=set)
    tables: set[int] = field(default_factory=set)
    new: frozenset[str] = frozenset()
    stock: int | None = None
    skus: set[int] = field(default_factory=set)
    added: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, query: QueryParams) -> Watch:
        new = frozenset((query.get("new") or "").split(",")) & {"orders", "tasks", "bookings", "tables"}
        stock = next(iter(_ids(query.get("stock"))), None)
        return cls(_ids(query.get("orders")), _ids(query.get("tasks")), _ids(query.get("bookings")),
                   _ids(query.get("tables")), new, stock, _ids(query.get("skus")) if stock else set())  # fmt: skip

    def stock_hit(self, name: str, event: dict[str, Any]) -> set[int]:
        """The skus of the page's stock rows this event may have changed: a manager changed one
        (`stock.changed`), or an order reserved, took or released units of them."""
        if self.stock is None:
            return set()
        if name == STOCK_EVENT:
            return {event["sku"]} & self.skus if event["warehouse_id"] == self.stock else set()
        if name != ORDER_EVENT or event.get("status") not in STOCK_MOVES:
            return set()
        items = event.get("items")
        if not isinstance(items, list):
            return set()
        return {i["sku"] for i in items if isinstance(i, dict) and isinstance(i.get("sku"), int)} & self.skus

    def admit(self, kind: str, event: dict[str, Any], item_id: int) -> str:
        """Whether this event's new order, task, booking or table goes on the page (a table: any
        not on it, since the page lists every table): `row` (at the top of its list, a table at
        the end, and followed from now on), `more` (the list took NEW_ROWS_MAX already: say once
        that there are more, so a desk left open all day does not grow without end) or "" (the page
        takes no new ones of this kind, the event is not of a new one, or the page was told)."""
        if kind not in self.new or event.get("previous_status") is not None or not item_id:
            return ""
        count = self.added.get(kind, 0)
        self.added[kind] = count + 1
        if count < NEW_ROWS_MAX:
            getattr(self, kind).add(item_id)
            return "row"
        return "more" if count == NEW_ROWS_MAX else ""


async def _desk(request: Request, user: Principal, watch: Watch, name: str, event: dict[str, Any]) -> bytes:
    """A manager's page: what it shows of this event, and where it takes new things, the new one."""
    if skus := watch.stock_hit(name, event):
        return await live_frames.stock_rows(request, user, watch.stock or 0, skus)
    if name == STOCK_EVENT:
        return b""
    if name == TABLE_EVENT:
        table_id = int(event["table_id"])
        if table_id in watch.tables:
            return await live_frames.table_card(request, event)
        return await _new(request, user, watch, "tables", event, table_id)
    if name == BOOKING_EVENT:
        booking_id = int(event["booking_id"])
        if booking_id in watch.bookings:
            return await live_frames.booking_card(request, event)
        return await _new(request, user, watch, "bookings", event, booking_id)
    frames, order_id = b"", int(event["order_id"])
    if order_id in watch.orders:
        frames += await live_frames.order(request, user, event, desk=True)
    elif name == ORDER_EVENT:
        frames += await _new(request, user, watch, "orders", event, order_id)
    if name == TASK_EVENT:
        task_id = int(event.get("task_id") or 0)
        if task_id in watch.tasks:
            frames += await live_frames.task_row(request, user, event)
        else:
            frames += await _new(request, user, watch, "tasks", event, task_id)
    return frames


async def _new(
    request: Request, user: Principal, watch: Watch, kind: str, event: dict[str, Any], item_id: int
) -> bytes:
    match watch.admit(kind, event, item_id):
        case "row" if kind == "orders":
            return await live_frames.order(request, user, event, desk=True, new=True)
        case "row" if kind == "tasks":
            return await live_frames.task_row(request, user, event, new=True)
        case "row" if kind == "tables":
            return await live_frames.table_card(request, event, new=True)
        case "row":
            return await live_frames.booking_card(request, event, new=True)
        case "more":
            return live_frames.more(request, kind)
    return b""


async def _frames(request: Request, user: Principal, watch: Watch | None, name: str, data: str) -> bytes:
    """What the person's open page swaps for this event: a manager's what their page shows
    (`Watch`); a worker's board on their task events; a customer's order, whatever of it moved."""
    if name not in SHOWN or (event := _event(name, data)) is None:
        return b""
    if watch is not None:
        return await _desk(request, user, watch, name, event)
    if name == TASK_EVENT and user.role == Role.WORKER:
        return await live_frames.board(request, user)
    if name in DESK_ONLY:
        return b""
    return await live_frames.order(request, user, event, desk=False)


async def _rendered(request: Request, user: Principal, watch: Watch | None, name: str, data: str) -> bytes:
    """`_frames`, or nothing when this one event cannot be shown: the page keeps its stream."""
    try:
        return await _frames(request, user, watch, name, data)
    except Exception:
        log.exception("a %s event was not shown on a live page", name)
        return b""


async def _until(stopping: anyio.Event, source: AsyncIterator[T]) -> AsyncGenerator[T]:
    """The items of `source` until it ends or `stopping` is set, whichever comes first."""
    stop = asyncio.ensure_future(stopping.wait())
    try:
        while True:
            item = asyncio.ensure_future(anext(source))
            try:
                await asyncio.wait((item, stop), return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not item.done():
                    item.cancel()
                    await asyncio.wait((item,))
            if item.cancelled():
                return
            try:
                value = item.result()
            except StopAsyncIteration:
                return
            yield value
    finally:
        stop.cancel()


async def _relay(
    request: Request, user: Principal, upstream: httpx.Response, stopping: anyio.Event, watch: Watch | None
) -> AsyncIterator[bytes]:
    """The page fragments of the notifications stream's events, its heartbeats passed on, until it
    ends or this process begins stopping (then a retry hint: the browser reconnects, to another
    replica, at once)."""
    try:
        async with aclosing(_until(stopping, events(upstream.aiter_lines()))) as upstream_events:
            async for name, data, comment in upstream_events:
                if name:
                    yield await _rendered(request, user, watch, name, data)
                else:
                    yield f": {comment}\n\n".encode()
    except httpx.HTTPError as exc:
        log.info("live stream ended: %s", type(exc).__name__)
    finally:
        await upstream.aclose()
    if stopping.is_set():
        yield STOPPING_FRAME


@router.get("/live")
async def live(request: Request) -> Response:
    user = await signed_in(request)
    if user is None:
        return PlainTextResponse("Sign in to follow your orders.", status_code=401)
    web = get_web(request)
    headers = {"Authorization": f"Bearer {user.token}", "Accept": "text/event-stream"}
    if last := request.headers.get("last-event-id"):
        headers["Last-Event-ID"] = last[:100]
    try:
        upstream = await web.notifications.send(web.notifications.build_request("GET", STREAM, headers=headers),
                                                stream=True)  # fmt: skip
    except httpx.HTTPError as exc:
        log.warning("live updates unavailable: %s", type(exc).__name__)
        return PlainTextResponse("Live updates are unavailable right now.", 503, {"Retry-After": "5"})
    if upstream.status_code != 200:
        await upstream.aclose()
        status = upstream.status_code if upstream.status_code in (401, 403, 429) else 503
        extra = {"Retry-After": upstream.headers.get("retry-after", "5")} if status in (429, 503) else {}
        return PlainTextResponse("Live updates are unavailable right now.", status, extra)
    # Set by sse-starlette when the server begins stopping (SIGTERM): the relay sends a retry hint
    # and ends within the grace period, before uvicorn's own graceful-shutdown timeout cuts it.
    stopping = anyio.Event()
    return EventSourceResponse(
        _relay(
            request, user, upstream, stopping, Watch.of(request.query_params) if user.role == Role.MANAGER else None
        ),
        shutdown_event=stopping,
        shutdown_grace_period=STOPPING_GRACE_SECONDS,
        ping=0,  # the notifications stream's heartbeats are passed on
        sep="\n",
        headers={"Cache-Control": "no-store"},
    )

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
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, TypeVar

import anyio
import httpx
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from sse_starlette import EventSourceResponse

from checkout.web import live_frames
from checkout.web.forms import page_router, signed_in
from checkout.web.lifespan import get_web
from checkout.web.live_watch import (
    BOOKING_EVENT,
    DESK_ONLY,
    ORDER_EVENT,
    SHOWN,
    STOCK_EVENT,
    TABLE_EVENT,
    TASK_EVENT,
    Watch,
    parse,
)
from shopcommon.auth import Principal, Role
from shopcommon.http import header_text

log = logging.getLogger(__name__)
router = page_router()
STREAM = "/api/v1/events/stream"
#: How long a stream may take to say goodbye once the server stops (under uvicorn's 5 s).
STOPPING_GRACE_SECONDS = 2.0
#: Sent before a stream ends because this process is stopping: reconnect at once (to another replica).
STOPPING_FRAME = b"retry: 500\n: server stopping; reconnect\n\n"
#: Longest wait for an interrupted read of the notifications stream to tidy up.
READ_CLEANUP_SECONDS = 2.0
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
            desk = user.role == Role.MANAGER and not watch.mine
            return await live_frames.order(request, user, event, desk=desk, new=True)
        case "row" if kind == "tasks":
            return await live_frames.task_row(request, user, event, new=True)
        case "row" if kind == "tables":
            return await live_frames.table_card(request, event, new=True)
        case "row":
            return await live_frames.booking_card(request, event, new=True)
        case "more":
            return live_frames.more(request, kind, staff=user.role == Role.MANAGER)
    return b""


async def _frames(request: Request, user: Principal, watch: Watch | None, name: str, data: str) -> bytes:
    """What the person's open page swaps for this event: a manager's what their page shows
    (`Watch`); a worker's board on their task events; a customer's order, whatever of it moved, and
    on the first page of their orders (`Watch`: its orders) a new one, placed in another tab say.
    A manager's own orders (`Watch.mine`) are followed as a customer's, the rest of the shop left out."""
    if name not in SHOWN or (event := parse(name, data)) is None:
        return b""
    if watch is not None and user.role == Role.MANAGER and not watch.mine:
        return await _desk(request, user, watch, name, event)
    if name == TASK_EVENT and user.role == Role.WORKER:
        return await live_frames.board(request, user)
    if name in DESK_ONLY:
        return b""
    if watch is not None and (order_id := int(event["order_id"])) not in watch.orders:
        if name == ORDER_EVENT and event.get("user_id") == user.user_id:
            return await _new(request, user, watch, "orders", event, order_id)
        if watch.mine:  # another's order, on a manager's stream
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
                    # Shielded: when the page went away its task is being cancelled, and the read's
                    # own clean-up (the connection back to the pool) must end before the stream is
                    # closed, or the relay's place to notifications is lost for good.
                    with anyio.move_on_after(READ_CLEANUP_SECONDS, shield=True):
                        await asyncio.wait((item,))
            if not item.done() or item.cancelled():  # cut short, or still tidying up past its bound
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


def _watches(request: Request, user: Principal) -> bool:
    """A manager's page names what it shows; so does a customer's first page of orders (`new=orders`)."""
    return user.role == Role.MANAGER or request.query_params.get("new") == "orders"


@router.get("/live")
async def live(request: Request) -> Response:
    user = await signed_in(request)
    if user is None:
        return PlainTextResponse("Sign in to follow your orders.", status_code=401)
    web = get_web(request)
    headers = {"Authorization": f"Bearer {user.token}", "Accept": "text/event-stream"}
    if last := header_text(request.headers.get("last-event-id", ""), 100):
        headers["Last-Event-ID"] = last  # event ids are ASCII; anything else resumes nothing
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
        _relay(request, user, upstream, stopping, Watch.of(request.query_params) if _watches(request, user) else None),
        shutdown_event=stopping,
        shutdown_grace_period=STOPPING_GRACE_SECONDS,
        ping=0,  # the notifications stream's heartbeats are passed on
        sep="\n",
        headers={"Cache-Control": "no-store"},
    )

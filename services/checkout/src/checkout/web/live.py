"""`/live`: the signed-in person's notifications stream, relayed same-origin as page fragments.

The page cannot send the HttpOnly cookie's token to the notifications service itself, so checkout
opens the stream there with it (`/api/v1/events/stream`, Bearer) and turns each
`order.status_changed` into the fragments the pages swap (htmx-ext-sse): `order-<id>` is the
order's row on `/orders`, `order-<id>-detail` its part of `/orders/<id>` (blocks of those pages'
templates, rendered alone). The order is read again from LOMS with the person's token, so the row
shows what LOMS holds, whatever order events arrive in. Heartbeats are passed on; when the
notifications stream ends (its token expired) so does this one, and the browser reconnects. When
this process stops (SIGTERM), the stream ends at once with a `retry:` hint, as notifications' own does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, TypeVar

import anyio
import httpx
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from checkout.shopping.deps import get_shopping
from checkout.shopping.schemas import Order
from checkout.shopping.usecases import orders
from checkout.web import csrf, people, staff
from checkout.web.forms import page_router, signed_in
from checkout.web.lifespan import get_web
from checkout.web.pages import render_fragment
from checkout.web.shop import order_view, product_names, task_workers
from shopcommon.auth import Principal, Role
from shopcommon.problems import ProblemError

log = logging.getLogger(__name__)
router = page_router()
STREAM = "/api/v1/events/stream"
ORDER_EVENT = "order.status_changed"
TASK_EVENT = "task.status_changed"
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


def sse(event: str, html: str) -> bytes:
    """One event whose data is an HTML fragment (one `data:` line per line of it)."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


def _event(data: str) -> dict[str, Any] | None:
    try:
        event = json.loads(data)
        int(event["order_id"])
    except (ValueError, KeyError, TypeError):
        return None
    return event if isinstance(event, dict) else None


async def _board(request: Request, user: Principal) -> bytes:
    """A worker's task list, as the board's `task_list` block (a new assignment, a moved task)."""
    shop, web = get_shopping(request), get_web(request)
    try:
        context = await staff.board_context(shop, user)
    except ProblemError as exc:
        log.info("task board not refreshed: LOMS did not answer (%s)", exc.detail)
        return b""
    token = csrf.form_token(request, secure=web.cookie_secure)
    return sse("tasks", render_fragment(web.templates, "tasks.html.j2", "task_list", csrf_token=token, **context))


async def _fragments(request: Request, user: Principal, data: str) -> bytes:
    event = _event(data)
    if event is None:
        return b""
    order_id = int(event["order_id"])
    shop, web = get_shopping(request), get_web(request)
    try:
        order = await orders.get_order(shop, user, order_id)
    except ProblemError as exc:
        log.info("order %s shown from its event: LOMS did not answer (%s)", order_id, exc.detail)
        try:
            order = Order.model_validate({**event, "created_at": None})
        except ValidationError:
            return b""
    view = order_view(order)
    token = csrf.form_token(request, secure=web.cookie_secure)
    workers = await people.names(request, task_workers([view]))
    row = render_fragment(web.templates, "orders.html.j2", "order_row", order=view, csrf_token=token, workers=workers)
    names = await product_names(shop, user, [item.sku for item in order.items])
    detail = render_fragment(web.templates, "order.html.j2", "order_detail", order=view, names=names,
                             csrf_token=token, workers=workers)  # fmt: skip
    return sse(f"order-{order_id}", row) + sse(f"order-{order_id}-detail", detail)


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
    request: Request, user: Principal, upstream: httpx.Response, stopping: anyio.Event
) -> AsyncIterator[bytes]:
    """The page fragments of the notifications stream's events, its heartbeats passed on, until it
    ends or this process begins stopping (then a retry hint: the browser reconnects, to another
    replica, at once)."""
    try:
        async with aclosing(_until(stopping, events(upstream.aiter_lines()))) as upstream_events:
            async for name, data, comment in upstream_events:
                if name == ORDER_EVENT:
                    yield await _fragments(request, user, data)
                elif name == TASK_EVENT:
                    # A worker's board lists their tasks; anyone else follows the order the task is of.
                    if user.role == Role.WORKER:
                        yield await _board(request, user)
                    else:
                        yield await _fragments(request, user, data)
                elif not name:
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
        _relay(request, user, upstream, stopping),
        shutdown_event=stopping,
        shutdown_grace_period=STOPPING_GRACE_SECONDS,
        ping=0,  # the notifications stream's heartbeats are passed on
        sep="\n",
        headers={"Cache-Control": "no-store"},
    )

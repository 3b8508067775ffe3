from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from notifications.api.deps import CurrentUserId
from notifications.domain.events import (
    BOOKING_STATUS_CHANGED,
    ORDER_STATUS_CHANGED,
    STOCK_CHANGED,
    TABLE_CHANGED,
    TASK_STATUS_CHANGED,
    BookingStatusChanged,
    OrderStatusChanged,
    StockChanged,
    TableChanged,
    TaskStatusChanged,
)
from notifications.stream import SEP
from notifications.stream_body import event_stream, heartbeat
from notifications.stream_limits import PermittedEventSourceResponse, StreamLimiter
from shopcommon.access import access
from shopcommon.auth import CurrentPrincipal, Role

#: How long a stream may take to say goodbye once the server stops (under uvicorn's 5 s).
STOPPING_GRACE_SECONDS = 2.0

router = APIRouter(prefix="/api/v1/events", tags=["live stream"])

#: The models of the events the stream sends, by SSE event name (their schemas are components).
STREAM_EVENTS: dict[str, type[BaseModel]] = {
    ORDER_STATUS_CHANGED: OrderStatusChanged,
    BOOKING_STATUS_CHANGED: BookingStatusChanged,
    TASK_STATUS_CHANGED: TaskStatusChanged,
    STOCK_CHANGED: StockChanged,
    TABLE_CHANGED: TableChanged,
}


def sse_event_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """One event as an SSE client parses it; `data` is the JSON of `model` on one line."""
    return {
        "type": "object",
        "required": ["id", "event", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "The event's `event_id`."},
            "event": {"const": name},
            "retry": {"type": "integer", "minimum": 0},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": f"#/components/schemas/{model.__name__}"},
            },
        },
    }


def _item_schema() -> dict[str, Any]:
    schemas = [sse_event_schema(name, model) for name, model in STREAM_EVENTS.items()]
    return schemas[0] if len(schemas) == 1 else {"oneOf": schemas}


# The schema of ONE event. OpenAPI 3.2 would say so with `itemSchema`, which a 3.1 document may not
# carry (Redocly refuses it); for 3.1 without `itemSchema`, schemathesis reads `schema` of
# `text/event-stream` as each event's, and validates `data` against its `contentSchema`.
SSE_DOC = {
    "description": "Server-Sent Events: `id: <event_id>`, `event: order.status_changed` (the caller's orders) or "
    "`event: booking.status_changed` (the bookings linked to the caller) or `event: task.status_changed` (a "
    "fulfilment task of the caller's order or assigned to the caller); a manager's stream carries every "
    "order's, booking's and task's events (a reconnecting manager's `Last-Event-ID` replays what they missed "
    "of them), and only a manager's carries `event: stock.changed` and `event: table.changed` (another manager "
    "changed a stock total or a table). `data: <event JSON>`; comment heartbeats at least every 15 s. The stream ends when the token it was opened with expires, "
    "after a `retry:` hint and a comment saying so: reconnect with a fresh token. The schema is that of "
    "one event.",
    "content": {"text/event-stream": {"schema": _item_schema()}},
}


@router.get(
    "/stream",
    summary="The caller's order, booking and task status changes as they happen (SSE)",
    description="A user may hold a few streams at once (`NOTIFICATIONS_SSE_MAX_STREAMS_PER_USER`, 5 by default) "
    "and a server serves a bounded number; one more is refused with 429 and `Retry-After`.",
    response_class=StreamingResponse,
    **access(Role.CUSTOMER, Role.WORKER, Role.MANAGER).doc(429, 503, answers={200: SSE_DOC}),
)
async def stream_events(
    request: Request,
    user_id: CurrentUserId,
    principal: CurrentPrincipal,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> PermittedEventSourceResponse:
    settings = request.app.state.settings
    limiter: StreamLimiter = request.app.state.stream_limiter
    permit = await limiter.acquire(user_id)
    exp = principal.claims.get("exp")
    # Set by sse-starlette when the server begins stopping: the body sends a retry hint and ends
    # within the grace period, before uvicorn's own graceful-shutdown timeout cancels it.
    stopping = anyio.Event()
    body = event_stream(
        request.app.state.stream_hub,
        user_id,
        last_event_id=last_event_id,
        wake_seconds=settings.sse_heartbeat_seconds,
        expires_at=float(exp) if isinstance(exp, int | float) else None,
        permit=permit,
        stopping=stopping,
        staff=principal.role == Role.MANAGER,
    )
    return PermittedEventSourceResponse(
        body,
        permit=permit,
        shutdown_event=stopping,
        shutdown_grace_period=STOPPING_GRACE_SECONDS,
        ping=settings.sse_heartbeat_seconds,
        ping_message_factory=heartbeat,
        sep=SEP,
        headers={"Cache-Control": "no-cache"},
    )

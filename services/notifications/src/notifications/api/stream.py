from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from notifications.api.deps import CurrentUserId
from notifications.stream import event_stream
from notifications.stream_limits import PermittedStreamingResponse, StreamLimiter
from shopcommon.auth import CurrentPrincipal, roles_doc
from shopcommon.problems import problem_responses

router = APIRouter(prefix="/api/v1/events", tags=["live stream"])

SSE_DOC = {
    "description": "Server-Sent Events: `id: <event_id>`, `event: order.status_changed`, `data: <event JSON>`; "
    "comment heartbeats at least every 15 s. The stream ends when the token it was opened with expires, "
    "after a `retry:` hint and a comment saying so: reconnect with a fresh token.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.get(
    "/stream",
    summary="The caller's order status changes as they happen (SSE)",
    description=(
        "A user may hold a few streams at once (`NOTIFICATIONS_SSE_MAX_STREAMS_PER_USER`, 5 by default) "
        "and a server serves a bounded number; one more is refused with 429 and `Retry-After`."
    ),
    response_class=StreamingResponse,
    responses={200: SSE_DOC, **problem_responses(401, 403, 429, 503)},
    openapi_extra=roles_doc("customer", "worker", "manager"),
)
async def stream_events(
    request: Request,
    user_id: CurrentUserId,
    principal: CurrentPrincipal,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> StreamingResponse:
    settings = request.app.state.settings
    limiter: StreamLimiter = request.app.state.stream_limiter
    permit = await limiter.acquire(user_id)
    exp = principal.claims.get("exp")
    body = event_stream(
        request.app.state.stream_hub,
        user_id,
        last_event_id=last_event_id,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
        expires_at=float(exp) if isinstance(exp, int | float) else None,
        permit=permit,
    )
    return PermittedStreamingResponse(
        body,
        permit=permit,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

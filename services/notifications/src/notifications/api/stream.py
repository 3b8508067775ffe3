from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from notifications.api.deps import CurrentUserId
from notifications.stream import event_stream
from shopcommon.auth import roles_doc
from shopcommon.problems import problem_responses

router = APIRouter(prefix="/api/v1/events", tags=["live stream"])

SSE_DOC = {
    "description": "Server-Sent Events: `id: <event_id>`, `event: order.status_changed`, `data: <event JSON>`; "
    "comment heartbeats at least every 15 s.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.get(
    "/stream",
    summary="The caller's order status changes as they happen (SSE)",
    response_class=StreamingResponse,
    responses={200: SSE_DOC, **problem_responses(401, 403)},
    openapi_extra=roles_doc("customer", "worker", "manager"),
)
async def stream_events(
    request: Request, user_id: CurrentUserId, last_event_id: Annotated[str | None, Header(max_length=100)] = None
) -> StreamingResponse:
    settings = request.app.state.settings
    body = event_stream(
        request.app.state.stream_hub,
        user_id,
        last_event_id=last_event_id,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
    )
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )

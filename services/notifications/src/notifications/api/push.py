from fastapi import APIRouter, Request, Response, status

from notifications.api.deps import CurrentUserId
from notifications.api.schemas import PushSubscriptionIn, PushSubscriptionOut, PushUnsubscribeIn, VapidPublicKeyOut
from notifications.services import push_subscriptions
from shopcommon.auth import roles_doc
from shopcommon.db import SessionDep
from shopcommon.problems import problem_responses

router = APIRouter(prefix="/api/v1/push", tags=["web push"])
PEOPLE = roles_doc("customer", "worker", "manager")


@router.get(
    "/vapid-public-key", summary="The key browsers subscribe with (applicationServerKey)", openapi_extra=roles_doc()
)
async def vapid_public_key(request: Request) -> VapidPublicKeyOut:
    return VapidPublicKeyOut(public_key=request.app.state.vapid_public_key)


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe this browser (201 new, 200 when the endpoint was known)",
    description=(
        "The endpoint must be an `https` URL whose host resolves to public internet addresses only "
        "(checked again before every push); anything else is refused with 422."
    ),
    responses={
        200: {"description": "Already subscribed; keys updated", "model": PushSubscriptionOut},
        **problem_responses(400, 401, 403, 409, 422, 503),
    },
    openapi_extra=PEOPLE,
)
async def subscribe(
    body: PushSubscriptionIn, session: SessionDep, user_id: CurrentUserId, request: Request, response: Response
) -> PushSubscriptionOut:
    settings = request.app.state.settings
    stored, created = await push_subscriptions.subscribe(
        session,
        user_id=user_id,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        guard=request.app.state.push_guard,
        resolve_timeout=settings.push_resolve_timeout_seconds,
        max_per_user=settings.max_subscriptions_per_user,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return PushSubscriptionOut(id=stored.id, endpoint=stored.endpoint, created_at=stored.created_at)


@router.delete(
    "/subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe a browser",
    responses=problem_responses(400, 401, 403, 404, 422),
    openapi_extra=PEOPLE,
)
async def unsubscribe(body: PushUnsubscribeIn, session: SessionDep, user_id: CurrentUserId) -> Response:
    await push_subscriptions.unsubscribe(session, user_id=user_id, endpoint=body.endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
